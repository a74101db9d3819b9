// What a slash command is: its contract (name, usage, examples) and how it parses and runs.
import type { CommandInvocation } from '../src/chat/chat.ts';
import type { HelpEntry } from '../src/chat/blocks/common.ts';
import type { Deps } from '../src/deps.ts';
import type { Incident } from '../src/incident.ts';
import type { Actor } from '../src/timeline.ts';
import { parseArgs, type ParsedArgs } from './args.ts';

/** `C` is what the command may reach: its step's capabilities (the bot hands the whole `Deps`, which has them all). */
export interface CommandContext<C = Deps> {
  inv: CommandInvocation;
  actor: Actor;
  deps: C;
  /** The channel's active incident, when there is one. */
  incident: Incident | null;
  /** Every command the bot dispatches, from the step list (what /incident help lists). */
  commands: readonly HelpEntry[];
}

export interface CommandSpec<C = Deps> {
  /** "/incident": must match manifest.yml. */
  name: string;
  /** One line for the manifest and /incident help. */
  summary: string;
  /** The manifest's usage_hint. */
  usageHint: string;
  /** Full usage lines for help and error messages. */
  usage: string[];
  examples: string[];
  /** Read-only commands are not recorded on the timeline as commands. */
  readOnly?: boolean;
  run(ctx: CommandContext<C>): Promise<void>;
}

export function usageText(spec: CommandSpec): string {
  return spec.usage.join('\n');
}

/** What a command declares besides its name and usage lines; `run` gets the words parsed against that usage. */
export interface CommandDefinition<C> {
  summary: string;
  usageHint: string;
  examples: string[];
  readOnly?: boolean;
  run(ctx: CommandContext<C>, args: ParsedArgs, usage: string): Promise<void>;
}

/**
 * A slash command from its name, its usage lines (each starts with the name; help shows them and every refusal
 * quotes them) and its definition. Its words are parsed before `run`, so a bad quote is refused the same everywhere.
 */
export function command<C>(name: string, usage: string[], def: CommandDefinition<C>): CommandSpec<C> {
  const stray = usage.find((line) => line !== name && !line.startsWith(`${name} `));
  if (stray !== undefined) throw new Error(`${name}: the usage line "${stray}" does not start with ${name}`);
  const text = usage.join('\n');
  const { run, ...about } = def;
  // async, so a refusal while parsing is a rejected promise like any other failure of run.
  return { name, usage, ...about, run: async (ctx) => run(ctx, parseArgs(ctx.inv.text, text), text) };
}
