// Scrubs secrets out of anything that may reach a log line or a chat message.

const SECRET_KEY =
  /(token|secret|password|passwd|authorization|cookie|signature|credential|api[-_]?key|private[-_]?key)/i;
// Slack tokens, AWS access keys, bearer headers, passwords inside connection URLs.
const SECRET_PATTERNS: RegExp[] = [
  /\bxox[abposr]-[A-Za-z0-9-]{8,}/g,
  /\bxapp-[A-Za-z0-9-]{8,}/g,
  /\b(AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\bToken token=[A-Za-z0-9._~+/=-]{8,}/gi,
];
// The user may be empty (redis://:pw@host) and the password may hold '@' (pasted unencoded): everything up to the
// last '@' of the URL is hidden, so no part of such a password survives.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)(\S+)(@[^\s@]*)/gi;

export const REDACTED = '[redacted]';

/**
 * One case-insensitive regex matching wherever any known secret, pattern or URL password might start: a superset
 * of what text() replaces, so a string it does not match has nothing to hide.
 */
function anySecret(known: string[]): RegExp {
  const escaped = known.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(
    [...escaped, ...SECRET_PATTERNS.map((p) => p.source), URL_PASSWORD.source].join('|'),
    'i',
  );
}

export interface Redactor {
  text(value: string): string;
  /** Hides secrets in every string of `value`, and any string or number under a secret-sounding key. */
  value<T>(value: T): T;
  /** Hides secrets in every string of `value` but keeps values by key (stored records and events). */
  known<T>(value: T): T;
  /** Makes more secret values known (those named by the config, once it is read); never forgets one. */
  add(secrets: Iterable<string | undefined>): void;
}

/** Builds a redactor that also hides the exact values of the given secrets (env tokens and the like). */
export function createRedactor(secrets: Iterable<string | undefined> = []): Redactor {
  const known: string[] = [];
  let suspect = anySecret(known);
  function add(more: Iterable<string | undefined>): void {
    for (const s of more) if (typeof s === 'string' && s.length >= 6 && !known.includes(s)) known.push(s);
    // Longest first so a secret that contains another is hidden whole.
    known.sort((a, b) => b.length - a.length);
    suspect = anySecret(known);
  }
  add(secrets);

  function text(value: string): string {
    // Most strings hold no secret: one scan says so, instead of a split per known secret and six patterns.
    if (!suspect.test(value)) return value;
    let out = value;
    for (const secret of known) out = out.split(secret).join(REDACTED);
    for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, REDACTED);
    return out.replace(URL_PASSWORD, `$1${REDACTED}$3`);
  }

  function walk(input: unknown, depth: number, seen: WeakSet<object>, byKey = true): unknown {
    if (typeof input === 'string') return text(input);
    if (input === null || typeof input !== 'object' || depth > 12) return input;
    if (seen.has(input)) return '[circular]';
    seen.add(input);
    if (Buffer.isBuffer(input)) return input;
    if (input instanceof Error) {
      const out: Record<string, unknown> = { type: input.name, message: text(input.message) };
      if (input.stack) out.stack = text(input.stack);
      if ('code' in input) out.code = (input as { code: unknown }).code;
      return out;
    }
    if (Array.isArray(input)) return input.map((item) => walk(item, depth + 1, seen, byKey));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(input)) {
      out[key] =
        byKey && SECRET_KEY.test(key) && (typeof item === 'string' || typeof item === 'number')
          ? REDACTED
          : walk(item, depth + 1, seen, byKey);
    }
    return out;
  }

  return {
    text,
    value<T>(value: T): T {
      return walk(value, 0, new WeakSet()) as T;
    },
    known<T>(value: T): T {
      return walk(value, 0, new WeakSet(), false) as T;
    },
    add,
  };
}
