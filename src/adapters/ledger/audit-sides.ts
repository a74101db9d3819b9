// Helpers for running both sides at once: settling their queries, key byte order and interval text.
import { ExternalServiceError } from '../../errors.ts';

/** Byte order of UTF-8 text, which is what ORDER BY … COLLATE "C" gives. */
export function compareC(a: string, b: string): number {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(a) && /^[\x00-\x7f]*$/.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The error to report when one or both sides failed; both failures are named. */
export function failure(l: PromiseSettledResult<unknown>, c: PromiseSettledResult<unknown>): unknown {
  if (l.status === 'rejected' && c.status === 'rejected') {
    const lm = (l.reason as Error).message;
    const cm = (c.reason as Error).message;
    return new ExternalServiceError('legacy and cloud databases', `legacy: ${lm} — cloud: ${cm}`, {
      cause: l.reason,
    });
  }
  return l.status === 'rejected' ? l.reason : c.status === 'rejected' ? c.reason : undefined;
}

/** Settles both promises, then throws the first failure (legacy first) so no query is left dangling. */
export async function both<T, U>(legacy: Promise<T>, cloud: Promise<U>): Promise<[T, U]> {
  const [l, c] = await Promise.allSettled([legacy, cloud]);
  if (l.status === 'fulfilled' && c.status === 'fulfilled') return [l.value, c.value];
  throw failure(l, c);
}

export function interval(ms: number): string {
  return `${Math.max(0, Math.round(ms))} milliseconds`;
}
