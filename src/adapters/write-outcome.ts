// Which AWS write failures leave the outcome open (5xx, no answer) and how to name them; see src/outcome.ts.
import { ExternalServiceError } from '../errors.ts';
import { awsError, isThrottle } from './aws-retry.ts';

/** The SDK's own error, under our ExternalServiceError wrapping if any. */
function rootOf(err: unknown): unknown {
  return err instanceof ExternalServiceError && err.cause !== undefined ? err.cause : err;
}

/**
 * True when a failed write may still have been carried out: a 5xx (the service may have committed before failing to
 * answer), a dropped connection or a timeout (no answer at all). A 4xx, throttling included, is a refusal: the
 * request was not processed.
 */
export function mayHaveCommitted(err: unknown): boolean {
  const root = rootOf(err);
  if (isThrottle(root)) return false;
  const { status } = awsError(root);
  return status === undefined || status >= 500;
}

/** "answered HTTP 500 (InternalFailure: An internal error occurred.)" or "got no answer (socket hang up)". */
export function describeFailure(err: unknown): string {
  const root = rootOf(err) as { code?: string };
  const info = awsError(root);
  if (info.status !== undefined) return `answered HTTP ${info.status} (${info.code}: ${info.message})`;
  const code = typeof root.code === 'string' && root.code !== info.code ? `${root.code}: ` : '';
  return `got no answer (${code}${info.message})`;
}
