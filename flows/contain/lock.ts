// Step C, the traffic lock: one writer per zone or listener.
import type { ContainCaps } from './caps.ts';
import { ExternalServiceError } from '../../src/errors.ts';
import { withLease, type Lease } from '../../src/lease.ts';

const LOCK_TTL_MS = 60_000;
// Long enough for the changes queued ahead in the zone: each waits for the previous one to be INSYNC (~60 s).
const LOCK_WAIT_MS = 5 * 60_000;
/** Runs `fn` holding the traffic lease for `key` (one writer per zone or listener); waits up to 5 min for it. */
export async function withLock<T>(
  deps: ContainCaps,
  key: string,
  owner: string,
  fn: (lease: Lease) => Promise<T>,
): Promise<T> {
  const outcome = await withLease(
    deps.store,
    `lock:traffic:${key}`,
    {
      owner,
      ttlMs: LOCK_TTL_MS,
      waitMs: LOCK_WAIT_MS,
      onLost: (reason) => deps.log.error({ key, reason }, 'lost the traffic lock'),
    },
    fn,
  );
  if (!outcome.held) {
    throw new ExternalServiceError(
      'cloud-safety',
      `another traffic change to ${key} has been in progress for over ${LOCK_WAIT_MS / 1000} s; nothing was written. Wait for it, then run the command again.`,
    );
  }
  return outcome.value;
}
