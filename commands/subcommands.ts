// The first word of a command as one of its subcommands: one way to name them, refuse a missing or unknown one,
// and refuse words after the service, so every command answers the same mistakes in the same words.
import { UsageError } from '../src/errors.ts';
import { allowOnly, quoteInput, type ParsedArgs } from './args.ts';

/** "a, b or c". */
export function listOr(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/**
 * The subcommand `args` starts with, one of `names` (or an alias of one), and the words after it. A missing or
 * unknown subcommand is refused with the choices and the usage; nothing has run by then.
 */
export function pickSubcommand<const K extends string>(
  args: ParsedArgs,
  names: readonly K[],
  usage: string,
  aliases: Readonly<Record<string, K>> = {},
): { sub: K; rest: string[] } {
  const [word, ...rest] = args.words;
  if (word === undefined) throw new UsageError(`Say what to do: ${listOr(names)}.`, usage);
  const sub = (names as readonly string[]).includes(word) ? (word as K) : aliases[word];
  if (sub === undefined) {
    throw new UsageError(`Unknown subcommand ${quoteInput(word)}; use ${listOr(names)}.`, usage);
  }
  return { sub, rest };
}

/**
 * The optional service word of `<command> <sub> [service]`; any word after it is refused. `then` names what may
 * follow as options (", then steps= and bake=").
 */
export function atMostService(
  command: string,
  sub: string,
  rest: string[],
  usage: string,
  then = '',
): string | undefined {
  const [service, ...extra] = rest;
  if (extra.length > 0) {
    throw new UsageError(
      `Unexpected ${quoteInput(extra.join(' '))}; ${command} ${sub} takes at most a service name${then}.`,
      usage,
    );
  }
  return service;
}

/**
 * `<command> <sub> [service]`, taking no options: the subcommand and the optional service word. An option, then a
 * missing or unknown subcommand, then a word after the service, is refused with the usage.
 */
export function subcommandAndService<const K extends string>(
  command: string,
  args: ParsedArgs,
  names: readonly K[],
  usage: string,
): { sub: K; serviceWord: string | undefined } {
  allowOnly(args, [], usage);
  const { sub, rest } = pickSubcommand(args, names, usage);
  return { sub, serviceWord: atMostService(command, sub, rest, usage) };
}
