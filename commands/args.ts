// Parses slash-command text: words and key=value pairs, with "double quotes" for values with spaces.
import { UsageError } from '../src/errors.ts';

export interface ParsedArgs {
  words: string[];
  options: Map<string, string>;
}

const MAX_TEXT = 2000;
const KEY = /^[a-z][a-z0-9-]*$/;

export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let inQuotes = false;
  let quoted = false;
  // Slack turns straight quotes into curly ones on some clients.
  const normalized = text.replace(/[\u201c\u201d]/g, '"');
  for (const ch of normalized) {
    if (ch === '"') {
      inQuotes = !inQuotes;
      quoted = true;
    } else if (/\s/.test(ch) && !inQuotes) {
      if (current.length > 0 || quoted) tokens.push(current);
      current = '';
      quoted = false;
    } else {
      current += ch;
    }
  }
  if (inQuotes) throw new UsageError('A quote is not closed; write values with spaces as key="two words".');
  if (current.length > 0 || quoted) tokens.push(current);
  return tokens;
}

export function parseArgs(text: string, usage: string): ParsedArgs {
  if (text.length > MAX_TEXT)
    throw new UsageError(`That is ${text.length} characters; commands take at most ${MAX_TEXT}.`, usage);
  const words: string[] = [];
  const options = new Map<string, string>();
  for (const token of tokenize(text)) {
    const eq = token.indexOf('=');
    if (eq > 0 && KEY.test(token.slice(0, eq))) {
      const key = token.slice(0, eq);
      if (options.has(key)) throw new UsageError(`${key}= is given twice; give it once.`, usage);
      options.set(key, token.slice(eq + 1));
    } else {
      words.push(token);
    }
  }
  return { words, options };
}

/** Rejects options the command does not know, naming the ones it does. */
export function allowOnly(args: ParsedArgs, allowed: readonly string[], usage: string): void {
  for (const key of args.options.keys()) {
    if (!allowed.includes(key)) {
      const known =
        allowed.length > 0
          ? ` Known options: ${allowed.map((k) => `${k}=`).join(', ')}.`
          : ' This command takes no options.';
      throw new UsageError(`Unknown option ${key}=.${known}`, usage);
    }
  }
}

/** Text safe to echo back in an error: printable, short. */
export function quoteInput(text: string): string {
  const clean = text.replace(/[^\p{L}\p{N}\p{P}\p{S} ]/gu, '?');
  return `"${clean.length > 60 ? `${clean.slice(0, 57)}...` : clean}"`;
}
