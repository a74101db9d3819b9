// Observed outcomes: a write that failed or went unanswered is resolved by reading reality, never assumed.
import { ExternalServiceError } from './errors.ts';

/** What a read after an uncertain write found: the write's result, the state before it, or something else. */
export type Verdict = 'applied' | 'untouched' | 'moved';

export interface Observed<S> {
  verdict: Verdict;
  /** Reality as read. */
  current: S;
  /** Reads it took (a read that showed `untouched` or `moved` is repeated once the system had time to settle). */
  reads: number;
}

/**
 * The write failed and a read afterwards shows it did not happen: "nothing was written" is then a fact, not a guess.
 * Safe to retry (a retry re-reads first).
 */
export class NotWrittenError extends ExternalServiceError {
  override code = 'write.not_written';
  constructor(service: string, message: string, cause: unknown) {
    super(service, message, { retryable: true, cause });
    this.name = 'NotWrittenError';
  }
}

/**
 * The write failed or went unanswered and reality could not be read either: it may or may not have happened. Never
 * reported as "nothing was written"; a person (or a later read) must look.
 */
export class UnknownOutcomeError extends ExternalServiceError {
  override code = 'write.unknown';
  constructor(service: string, message: string, cause: unknown) {
    super(service, message, { retryable: true, cause });
    this.name = 'UnknownOutcomeError';
  }
}

export interface ObserveOptions<S> {
  /** How people name the system ("Route 53"). */
  service: string;
  /** The write and what went wrong with it, for messages: "ChangeResourceRecordSets answered HTTP 500 …". */
  failure: string;
  read: () => Promise<S>;
  verdict: (current: S) => Verdict;
  /**
   * A read that does not show the write is repeated after `delayMs`, up to `reads` reads in all (default 2, 1 s):
   * an answer lost in flight may land a moment later, and eventually consistent APIs (ELBv2) show a write late.
   */
  reads?: number;
  delayMs?: number;
  sleep: (ms: number) => Promise<void>;
}

/**
 * After a write whose outcome is uncertain: reads reality and says what is there. Throws UnknownOutcomeError when
 * reality cannot be read; never writes.
 */
export async function observeAfterFailure<S>(opts: ObserveOptions<S>): Promise<Observed<S>> {
  const reads = Math.max(1, opts.reads ?? 2);
  let last: Observed<S> | undefined;
  for (let n = 1; n <= reads; n++) {
    if (n > 1) await opts.sleep(opts.delayMs ?? 1000);
    let current: S;
    try {
      current = await opts.read();
    } catch (err) {
      if (last) return last;
      throw new UnknownOutcomeError(
        opts.service,
        `${opts.failure}, and reading it back failed too (${(err as Error).message}), so whether the write happened is UNKNOWN. Look at it in ${opts.service} before doing anything else.`,
        err,
      );
    }
    last = { verdict: opts.verdict(current), current, reads: n };
    if (last.verdict === 'applied') return last;
  }
  if (!last) throw new Error('observeAfterFailure made no read');
  return last;
}
