// The post-mortem's follow-ups (pure): each follows from what happened, with its reason; nothing is invented.
import { formatDuration } from '../../src/duration.ts';
import {
  SANDBOX_DOWN,
  SANDBOX_FAILED,
  SANDBOX_UP,
  TRAFFIC_CONVERGED,
  TRAFFIC_SUBMITTED,
} from '../../src/events.ts';
import type { TimelineEvent } from '../../src/timeline.ts';
import { when } from './read.ts';
import type { FollowUp, Happening, Postmortem } from './types.ts';
import { CDC_LAG_LIMIT_S, DEFAULT_MAX_TTL, SLOW_APPROVAL_MS } from './types.ts';

/** Follow-ups that follow from what happened, each with the reason; nothing is invented. */
export function deriveFollowUps(
  pm: Omit<Postmortem, 'followUps' | 'humanSections'>,
  events: TimelineEvent[],
): FollowUp[] {
  const out: FollowUp[] = [];
  const d = (msValue: number | null) => (msValue === null ? 'unknown' : formatDuration(msValue));

  if (!pm.verification.ok) {
    out.push({
      title: 'Find out who or what changed the stored timeline',
      why: `The hash chain breaks at event ${pm.verification.brokenAt + 1}: ${pm.verification.reason}. This document cannot vouch for anything from there on.`,
      from: [],
    });
  }

  for (const t of pm.traffic) {
    if (t.kind !== TRAFFIC_SUBMITTED || t.ttl === null) continue;
    const limit = t.maxTtl ?? DEFAULT_MAX_TTL;
    if (t.ttl <= limit) continue;
    const converged = pm.traffic.find((c) => c.kind === TRAFFIC_CONVERGED && c.at >= t.at);
    out.push({
      title: `Lower the DNS TTL to ${limit}s or less before the next migration step`,
      why: `The shift at ${when(t.at)} ran with a TTL of ${t.ttl}s (limit ${limit}s), so resolvers kept sending clients to the old answer for up to ${formatDuration(t.ttl * 1000)} after Route 53 was in sync${converged ? ` (clients converged at ${when(converged.at)})` : ''}.`,
      from: [t.at],
    });
  }

  const contained = pm.keyTimes.dnsInSync.at ?? pm.keyTimes.clientsConverged.at;
  if (!contained) {
    out.push({
      title: 'Containment was never recorded: check how traffic left the failing stack',
      why: 'No traffic shift reached "DNS in sync" on this timeline, so the time to contain is unknown and the customer impact window is open-ended.',
      from: [],
    });
  }

  if (pm.breaker.armed.length === 0) {
    out.push({
      title: 'Arm the circuit breaker before resuming the migration (/breaker arm)',
      why:
        pm.durations.timeToContainMs !== null
          ? `No breaker was armed during ${pm.incident.id}, so containment waited for people: time to contain ${d(pm.durations.timeToContainMs)}, of which approval took ${d(pm.durations.timeToApproveMs)}.`
          : `No breaker was armed during ${pm.incident.id}: nothing would have shifted traffic back to legacy without people.`,
      from: [],
    });
  }
  for (const trip of pm.breaker.trips) {
    const values = Object.entries(trip.values)
      .map(([k, v]) => `${k} ${v} (threshold ${trip.thresholds[k] ?? '?'})`)
      .join(', ');
    out.push({
      title: 'Review the breaker trip and what it shifted',
      why: `The breaker tripped at ${when(trip.at)}${values ? `: ${values}` : ''}${trip.breaches !== null ? ` after ${trip.breaches} breaches` : ''}. It latches until re-armed; decide whether the thresholds were right before re-arming.`,
      from: [trip.at],
    });
  }

  const slow = pm.actions.filter((a) => a.timeToApproveMs !== null && a.timeToApproveMs > SLOW_APPROVAL_MS);
  for (const a of slow) {
    out.push({
      title: 'Shorten the approval path (who was reachable, who was paged)',
      why: `"${a.summary}" waited ${d(a.timeToApproveMs)} for a second person (requested ${when(a.requestedAt)}, approved by ${a.approvers[0]?.name ?? '?'}); the limit we aim for is ${formatDuration(SLOW_APPROVAL_MS)}.`,
      from: [a.requestedAt ?? ''],
    });
  }
  for (const a of pm.actions.filter((x) => x.state === 'expired')) {
    out.push({
      title: 'Check approver coverage: a request expired unapproved',
      why: `"${a.summary}" by ${a.requester?.name ?? '?'} expired at ${when(a.decision?.at)} with nobody approving it.`,
      from: [a.decision?.at ?? ''],
    });
  }
  for (const a of pm.actions.filter((x) => x.breakGlass)) {
    out.push({
      title: 'Review the break-glass use',
      why: `"${a.summary}" ran on ${a.requester?.name ?? '?'}'s word alone (reason: ${a.breakGlass}). Confirm it was needed and why no approver was reachable.`,
      from: [a.requestedAt ?? ''],
    });
  }
  for (const a of pm.actions.filter((x) => x.state === 'failed')) {
    out.push({
      title: `Find out why "${a.summary}" failed`,
      why: `It failed at ${when(a.result?.at)}: ${a.result?.summary ?? 'no result recorded'}.`,
      from: [a.result?.at ?? ''],
    });
  }
  for (const a of pm.actions.filter((x) => x.state === 'executing' || x.state === 'approved')) {
    out.push({
      title: `Check the outcome of "${a.summary}" by hand`,
      why: 'It was approved but no result is on the timeline (interrupted?); reality may differ from the plan.',
      from: [a.requestedAt ?? ''],
    });
  }

  for (const q of pm.evidence.quarantines) {
    const before = pm.evidence.captured.filter((e) => e.at <= q.at);
    if (before.length === 0) {
      out.push({
        title: 'Capture heap and thread dumps before quarantining pods',
        why: `Pods were quarantined at ${when(q.at)} with no evidence captured before it (${q.summary}); their state at the time of failure is lost for root-cause analysis.`,
        from: [q.at],
      });
    }
  }
  for (const e of pm.evidence.captured.filter((x) => !x.sha256Valid || x.size === null)) {
    out.push({
      title: `Re-check the evidence ${e.uri ?? e.kind ?? ''} and its chain of custody`,
      why: `It was recorded at ${when(e.at)} ${!e.sha256Valid ? 'without a valid SHA-256' : 'without a size'}, so nobody can show it was not altered.`,
      from: [e.at],
    });
  }
  for (const f of pm.evidence.failed) {
    out.push({
      title: 'Find out why an evidence capture failed',
      why: `${f.summary} (${when(f.at)}).`,
      from: [f.at],
    });
  }
  if (pm.evidence.captured.length === 0 && pm.actions.some((a) => a.step === 'C')) {
    out.push({
      title: 'Preserve the failing workload next time (/telemetry) before it is gone',
      why: 'Nothing was captured from the failing pods on this timeline, so the root cause must be found without heap dumps or thread traces.',
      from: [],
    });
  }

  for (const a of pm.ledger.audits) {
    if (a.cdc && (a.cdc.healthy === false || (a.cdc.lagSeconds ?? 0) > CDC_LAG_LIMIT_S)) {
      out.push({
        title: 'Fix CDC replication between legacy and cloud before the next cutover',
        why: `The ledger audit at ${when(a.at)} reported CDC ${a.cdc.healthy === false ? 'unhealthy' : 'lagging'}${a.cdc.lagSeconds !== null ? ` (lag ${a.cdc.lagSeconds}s, limit ${CDC_LAG_LIMIT_S}s)` : ''}${a.cdc.detail ? `: ${a.cdc.detail}` : ''}.`,
        from: [a.at],
      });
    }
  }
  const lastAudit = pm.ledger.audits[pm.ledger.audits.length - 1];
  if (lastAudit && lastAudit.divergent > 0) {
    const reconciled = pm.ledger.reconciliations.some((r) => r.at >= lastAudit.at);
    if (!reconciled) {
      const parts = Object.entries(lastAudit.counts)
        .filter(([k, v]) => v > 0 && k !== 'in_flight')
        .map(([k, v]) => `${v} ${k.replace(/_/g, ' ')}`);
      out.push({
        title: 'Reconcile the ledger (/ledger reconcile) and re-audit',
        why: `The last audit (${when(lastAudit.at)}) found ${lastAudit.divergent} divergent rows (${parts.join(', ')}) and no reconciliation followed.`,
        from: [lastAudit.at],
      });
    }
  }

  let up: Happening | null = null;
  for (const s of pm.sandbox) {
    if (s.kind === SANDBOX_UP) up = s;
    if (s.kind === SANDBOX_DOWN || s.kind === SANDBOX_FAILED) up = null;
  }
  if (up) {
    out.push({
      title: 'Tear the sandbox down when the investigation is done (/sandbox down)',
      why: `A sandbox came up at ${when(up.at)} and no teardown is recorded; it costs money until its TTL ends.`,
      from: [up.at],
    });
  }

  const pdFailures = events.filter((e) => e.kind === 'pagerduty.unavailable');
  if (pdFailures.length > 0) {
    const firstFailure = pdFailures[0];
    out.push({
      title: 'Check the PagerDuty integration',
      why: `The PagerDuty mirror paused ${pdFailures.length} time(s), first at ${when(firstFailure?.at)}: ${firstFailure?.summary ?? ''}`,
      from: pdFailures.map((e) => e.at),
    });
  }
  return out;
}
