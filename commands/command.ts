// What a slash command is: its contract (name, usage, examples) and how it parses and runs.
import type { CommandInvocation } from '../src/chat/chat.ts';
import type { HelpEntry } from '../src/chat/blocks/common.ts';
import type { Deps } from '../src/deps.ts';
import type { Incident } from '../src/incident.ts';
import type { Actor } from '../src/timeline.ts';

export interface CommandContext {
  inv: CommandInvocation;
  actor: Actor;
  deps: Deps;
  /** The channel's active incident, when there is one. */
  incident: Incident | null;
  /** Every command the bot dispatches, from the step list (what /incident help lists). */
  commands: readonly HelpEntry[];
}

export interface CommandSpec {
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
  run(ctx: CommandContext): Promise<void>;
}

export function usageText(spec: CommandSpec): string {
  return spec.usage.join('\n');
}
