// The post-mortem's records (pure): actions, traffic shifts, evidence and ledger audits, read from the timeline.
import {
  ACTION_PREFIX,
  EVIDENCE_CAPTURED,
  LEDGER_AUDITED,
  TRAFFIC_CONVERGED,
  TRAFFIC_IN_SYNC,
  TRAFFIC_SUBMITTED,
} from '../../src/events.ts';
import type { TimelineEvent } from '../../src/timeline.ts';
import { bool, compactJson, ms, num, obj, person, shareText, str, who } from './read.ts';
import type { ActionRecord, EvidenceRecord, LedgerAuditRecord, TrafficRecord } from './types.ts';

export function buildActions(events: TimelineEvent[], traffic: TrafficRecord[]): ActionRecord[] {
  const byId = new Map<string, ActionRecord>();
  for (const event of events) {
    if (!event.kind.startsWith(ACTION_PREFIX)) continue;
    const data = obj(event.data);
    const id = str(data.action);
    if (!id) continue;
    const verb = event.kind.slice(ACTION_PREFIX.length);
    let record = byId.get(id);
    if (!record) {
      record = {
        id,
        kind: str(data.kind) ?? 'unknown',
        step: event.step,
        summary: event.summary,
        requester: null,
        requestedAt: null,
        approvers: [],
        policy: null,
        breakGlass: null,
        before: '(not recorded)',
        after: '(not recorded)',
        changeHash: str(data.changeHash),
        state: 'unknown',
        decision: null,
        result: null,
        progress: [],
        timeToApproveMs: null,
        timeToFinishMs: null,
      };
      byId.set(id, record);
    }
    switch (verb) {
      case 'requested': {
        record.requester = person(event.actor);
        record.requestedAt = event.at;
        record.summary = event.summary.replace(/^.*? requested: /, '');
        record.breakGlass = str(data.breakGlass);
        record.before = compactJson(data.basis);
        record.after = compactJson(data.change);
        record.changeHash = str(data.changeHash) ?? record.changeHash;
        record.state = 'requested';
        const policy = str(data.policy);
        if (policy)
          record.policy = { name: policy, quorum: num(data.quorum) ?? 1, approvers: str(data.approvers) };
        break;
      }
      // One approval short of a quorum: they approved too, though it was the last one that let it run.
      case 'approval-recorded':
        record.approvers.push({ ...person(event.actor), at: event.at });
        break;
      case 'approved':
        record.approvers.push({ ...person(event.actor), at: event.at });
        record.state = 'approved';
        break;
      case 'denied':
      case 'cancelled':
      case 'expired':
        record.state = verb;
        record.decision = {
          state: verb,
          by: who(event.actor),
          at: event.at,
          ...(str(data.reason) ? { reason: str(data.reason) ?? '' } : {}),
        };
        break;
      case 'executing':
        record.state = 'executing';
        break;
      case 'progress':
        record.progress.push({ at: event.at, text: event.summary });
        break;
      case 'succeeded':
      case 'failed':
        record.state = verb;
        record.result = {
          ok: verb === 'succeeded',
          summary: event.summary.replace(/^(Done|FAILED): .*?\. /, ''),
          at: event.at,
        };
        break;
      default:
        break;
    }
  }
  for (const record of byId.values()) {
    // A traffic shift says what it changed in its own words: the legacy/cloud shares before and after.
    const shift = traffic.find((t) => t.action === record.id && t.before && t.after);
    if (shift?.before && shift.after) {
      record.before = shift.before;
      record.after = shift.after;
    }
    // Approved when the last approval met the quorum (with one approver, the first is the last).
    const approval = record.approvers.at(-1);
    record.timeToApproveMs = approval ? ms(record.requestedAt, approval.at) : null;
    record.timeToFinishMs = record.result ? ms(approval?.at ?? record.requestedAt, record.result.at) : null;
  }
  return [...byId.values()];
}

export function buildTraffic(events: TimelineEvent[]): TrafficRecord[] {
  return events
    .filter((e) => e.kind === TRAFFIC_SUBMITTED || e.kind === TRAFFIC_IN_SYNC || e.kind === TRAFFIC_CONVERGED)
    .map((e) => {
      const d = obj(e.data);
      return {
        at: e.at,
        kind: e.kind,
        action: str(d.action),
        layer: str(d.layer),
        before: shareText(d.before),
        after: shareText(d.after),
        ttl: num(d.ttl),
        maxTtl: num(d.maxTtl),
        changeId: str(d.changeId),
      };
    });
}

/** Each event of `kind`, read from its data (an object, or {} when it is not one). */
function readEach<T>(
  events: TimelineEvent[],
  kind: string,
  read: (d: Record<string, unknown>, e: TimelineEvent) => T,
): T[] {
  return events.filter((e) => e.kind === kind).map((e) => read(obj(e.data), e));
}

export function buildEvidence(events: TimelineEvent[]): EvidenceRecord[] {
  return readEach(events, EVIDENCE_CAPTURED, (d, e) => {
    const sha = str(d.sha256);
    return {
      at: e.at,
      uri: str(d.uri),
      kind: str(d.kind),
      pod: str(d.pod),
      container: str(d.container),
      node: str(d.node),
      imageDigest: str(d.imageDigest),
      size: num(d.size),
      sha256: sha,
      sha256Valid: sha !== null && /^[0-9a-f]{64}$/i.test(sha),
      startedAt: str(d.startedAt),
      endedAt: str(d.endedAt),
      requestedBy: str(d.requestedBy),
    };
  });
}

const LEDGER_CLASSES = [
  'missing_in_legacy',
  'missing_in_cloud',
  'mismatched',
  'partial',
  'invariant',
  'in_flight',
] as const;

export function buildAudits(events: TimelineEvent[]): LedgerAuditRecord[] {
  return readEach(events, LEDGER_AUDITED, (d, e) => {
    const rawCounts = obj(d.counts);
    const counts: Record<string, number> = {};
    for (const [key, value] of Object.entries(rawCounts)) {
      const n = num(value);
      if (n !== null) counts[key] = n;
    }
    const divergent = LEDGER_CLASSES.filter((c) => c !== 'in_flight').reduce(
      (sum, c) => sum + (counts[c] ?? 0),
      0,
    );
    const cdcRaw = d.cdc === undefined ? null : obj(d.cdc);
    return {
      at: e.at,
      by: who(e.actor),
      counts,
      divergent,
      rowsCompared: num(d.rowsCompared),
      durationMs: num(d.durationMs),
      since: str(d.since),
      csv: str(d.csv),
      bulkDivergence: bool(d.bulkDivergence) ?? false,
      cdc: cdcRaw
        ? { healthy: bool(cdcRaw.healthy), lagSeconds: num(cdcRaw.lagSeconds), detail: str(cdcRaw.detail) }
        : null,
    };
  });
}
