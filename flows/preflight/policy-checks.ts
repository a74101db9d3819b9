// /preflight's check of the approval policies: every action kind of the service has quorum + 1 people who may approve.
import type { Policy } from '../../src/access.ts';
import type { PreflightCaps } from './caps.ts';
import type { Actor } from '../../src/timeline.ts';
import type { PreflightCheck } from './preflight.ts';

/**
 * One line per policy that applies to some kind on `service` (the default rule has its own check): quorum + 1
 * eligible people, so whoever of them requests, enough others remain. Null when no policy applies.
 */
export async function policiesCheck(
  deps: PreflightCaps,
  service: string,
  requester: Actor,
): Promise<PreflightCheck | null> {
  if (deps.config.access.policies.length === 0) return null;
  const byPolicy = new Map<string, { policy: Policy; kinds: string[] }>();
  for (const kind of deps.approvals.kinds().sort()) {
    const policy = deps.access.policyFor(kind, service);
    if (policy.name === 'default') continue;
    const entry = byPolicy.get(policy.name) ?? { policy, kinds: [] };
    entry.kinds.push(kind);
    byPolicy.set(policy.name, entry);
  }
  if (byPolicy.size === 0) return null;
  const title = 'Each action kind has quorum + 1 people who may approve it';
  const lines: string[] = [];
  const fixes: string[] = [];
  const statuses: PreflightCheck['status'][] = [];
  for (const { policy, kinds } of byPolicy.values()) {
    const { ids, anyone, unresolved } = await deps.access.eligible(policy);
    const needed = policy.quorum + 1;
    const besidesYou = ids.filter((id) => id !== requester.id).length;
    const who = deps.access.describeApprovers(policy);
    const note = unresolved.length > 0 ? `; could not list ${unresolved.join(', ')}` : '';
    const head = `"${policy.name}" (${kinds.join(', ')}): quorum ${policy.quorum}, ${anyone ? 'anyone' : `${ids.length} eligible`} of ${who}`;
    if (anyone || ids.length >= needed) {
      lines.push(`${head}${note}`);
      continue;
    }
    // Fewer than the quorum besides the requester: their request could never be approved.
    statuses.push(besidesYou < policy.quorum ? 'fail' : 'warn');
    lines.push(`${head}, needs ${needed}${note}`);
    fixes.push(
      `add ${needed - ids.length} more person(s) to ${who} for "${policy.name}" (or lower its quorum), so ${kinds.join(', ')} can be approved whoever of them asks`,
    );
  }
  return {
    id: 'policies',
    title,
    status: statuses.includes('fail') ? 'fail' : statuses.includes('warn') ? 'warn' : 'pass',
    detail: lines.join('; '),
    ...(fixes.length > 0 ? { fix: `${fixes.join('; ')}.` } : {}),
  };
}
