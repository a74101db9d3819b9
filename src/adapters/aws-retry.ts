// AWS call discipline shared by the traffic adapters: our own retries with jittered backoff (SDK retries are off).
import { ExternalServiceError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Codes AWS uses for "slow down" and "busy with your previous change": safe to retry, even for writes. */
const THROTTLED = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'PriorRequestNotComplete',
]);

export interface AwsErrorInfo {
  code: string;
  message: string;
  status: number | undefined;
  requestId: string | undefined;
}

/** The code, message and HTTP status of whatever an SDK call threw. */
export function awsError(err: unknown): AwsErrorInfo {
  const e = err as {
    name?: string;
    Code?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  return {
    code: e.Code ?? e.name ?? e.code ?? 'Error',
    message: e.message ?? String(err),
    status: e.$metadata?.httpStatusCode,
    requestId: e.$metadata?.requestId,
  };
}

export function isThrottle(err: unknown): boolean {
  const { code, status } = awsError(err);
  return THROTTLED.has(code) || status === 429;
}

/** Server-side or network trouble: the request may not have been processed. Retried for reads only. */
export function isTransient(err: unknown): boolean {
  const { status, code } = awsError(err);
  if (status !== undefined && status >= 500) return true;
  return ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'TimeoutError', 'RequestTimeout'].includes(
    code,
  );
}

export interface RetryPolicy {
  /** Tries in all, the first included (5). */
  attempts: number;
  /** First backoff (1 s), doubled each time up to `capMs` (20 s). */
  baseMs: number;
  capMs: number;
  sleep: Sleep;
  /** 0 <= random() < 1; injectable so tests know the delays. */
  random: () => number;
  /**
   * Tries for PriorRequestNotComplete (default: `attempts`): Route 53 is still processing the previous change to the
   * zone (another replica's or tool's), which takes longer than a throttle lasts, so the backoff runs longer.
   */
  busyAttempts?: number;
}

export const DEFAULT_RETRY: Omit<RetryPolicy, 'sleep' | 'random'> = {
  attempts: 5,
  baseMs: 1000,
  capMs: 20_000,
  // About 90 s of backoff in all: longer than Route 53 usually takes to get a change INSYNC (60 s).
  busyAttempts: 10,
};

/** Delay before try n+1 (n from 1): half the doubled base plus up to the other half at random ("equal jitter"). */
export function backoffMs(
  policy: Pick<RetryPolicy, 'baseMs' | 'capMs' | 'random'>,
  tryNumber: number,
): number {
  const base = Math.min(policy.capMs, policy.baseMs * 2 ** (tryNumber - 1));
  return Math.round(base / 2 + policy.random() * (base / 2));
}

export interface CallOptions {
  /** How people name the service in messages ("Route 53"). */
  service: string;
  /** The metrics label (route53, elbv2). */
  adapter: string;
  operation: string;
  /** Writes retry only on throttling (the request was refused, not processed); reads also on 5xx/network. */
  write: boolean;
  policy: RetryPolicy;
  metrics: Metrics;
  log: Logger;
  /** Called with how many tries it took, for receipts. */
  onAttempts?: (n: number) => void;
}

/**
 * Runs one AWS call with our retry policy. Throttling that outlasts every try, 5xx and network failures become
 * ExternalServiceError ("their outage"); anything else is rethrown as the SDK raised it for the adapter to map.
 */
export async function callAws<T>(opts: CallOptions, fn: () => Promise<T>): Promise<T> {
  const { policy, log } = opts;
  for (let tryNumber = 1; ; tryNumber++) {
    try {
      const result = await opts.metrics.timed(opts.adapter, opts.operation, fn);
      opts.onAttempts?.(tryNumber);
      return result;
    } catch (err) {
      const info = awsError(err);
      const retryable = isThrottle(err) || (!opts.write && isTransient(err));
      const busy = info.code === 'PriorRequestNotComplete';
      const limit = busy ? Math.max(policy.attempts, policy.busyAttempts ?? 0) : policy.attempts;
      if (retryable && tryNumber < limit) {
        const delayMs = backoffMs(policy, tryNumber);
        log.warn(
          { service: opts.service, operation: opts.operation, code: info.code, try: tryNumber, delayMs },
          'aws call refused, backing off',
        );
        await policy.sleep(delayMs);
        continue;
      }
      opts.onAttempts?.(tryNumber);
      if (busy) {
        throw new ExternalServiceError(
          opts.service,
          `${opts.operation} was refused ${tryNumber} times because an earlier change to the same zone is still being processed (${info.code}); nothing was changed by this call. Run it again once that change is INSYNC.`,
          { status: info.status, retryable: true, cause: err },
        );
      }
      if (isThrottle(err)) {
        throw new ExternalServiceError(
          opts.service,
          `${opts.operation} was throttled ${tryNumber} times (${info.code}: ${info.message}); nothing was changed by this call. Wait a minute and run it again.`,
          { status: info.status, retryable: true, cause: err },
        );
      }
      if (isTransient(err)) {
        throw new ExternalServiceError(
          opts.service,
          `${opts.operation} failed (${info.code}${info.status ? `, HTTP ${info.status}` : ''}: ${info.message})${tryNumber > 1 ? ` after ${tryNumber} tries` : ''}.`,
          { status: info.status, retryable: true, cause: err },
        );
      }
      throw err;
    }
  }
}

/** Maps an error no adapter rule claimed: access problems and the rest, with the provider's own words. */
export function unexpectedAwsError(service: string, operation: string, err: unknown): ExternalServiceError {
  if (err instanceof ExternalServiceError) return err;
  const info = awsError(err);
  const hint =
    info.code === 'AccessDenied' || info.code === 'AccessDeniedException'
      ? ' The bot\'s IAM role lacks this permission; see "Permissions" in docs/contain.md.'
      : '';
  return new ExternalServiceError(service, `${operation} failed: ${info.code}: ${info.message}.${hint}`, {
    status: info.status,
    cause: err,
  });
}
