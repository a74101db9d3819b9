// The post-mortem as data (pure): built from the timeline's events only, read by kind, tolerant of missing fields.
import { formatDuration } from '../../src/duration.ts';
import {
  ACTION_PREFIX,
  BREAKER_ARMED,
  BREAKER_DISARMED,
  BREAKER_INCONCLUSIVE,
  BREAKER_TRIPPED,
  EVIDENCE_CAPTURED,
  EVIDENCE_FAILED,
  INCIDENT_DECLARED,
  INCIDENT_RESOLVED,
  INCIDENT_ROLE_ASSIGNED,
  INCIDENT_SEVERITY_CHANGED,
  INCIDENT_STATUS_UPDATE,
  INCIDENT_UPDATE_REMINDER,
  LEDGER_AUDITED,
  LEDGER_RECONCILED,
  PODS_QUARANTINED,
  SANDBOX_DOWN,
  SANDBOX_FAILED,
  SANDBOX_UP,
  TIMELINE_PINNED,
  TRAFFIC_CONVERGED,
  TRAFFIC_IN_SYNC,
  TRAFFIC_SUBMITTED,
} from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { STEPS, type StepState } from '../../src/runbook.ts';
import type { Step, TimelineEvent, Verification } from '../../src/timeline.ts';

export const POSTMORTEM_SCHEMA = 'cloud-safety.postmortem/v1';

/** Beyond this the follow-ups call the approval path slow. */
export const SLOW_APPROVAL_MS = 5 * 60_000;
/** CDC lag above this is called lagging. */
export const CDC_LAG_LIMIT_S = 60;
const DEFAULT_MAX_TTL = 60;

export interface Person {
  id: string;
  name: string;
  type: string;
}

export interface KeyTime {
  label: string;
  at: string | null;
  sinceDeclaredMs: number | null;
  /** Hash of the timeline event it comes from. */
  event: string | null;
}

export interface ActionRecord {
  id: string;
  kind: string;
  step: Step | null;
  summary: string;
  requester: Person | null;
  requestedAt: string | null;
  approvers: (Person & { at: string })[];
  breakGlass: string | null;
  /** "legacy 20% / cloud 80%" -> "legacy 100% / cloud 0%", or the recorded basis and change as JSON. */
  before: string;
  after: string;
  changeHash: string | null;
  state: string;
  decision: { state: string; by: string; at: string; reason?: string } | null;
  result: { ok: boolean; summary: string; at: string } | null;
  progress: { at: string; text: string }[];
  timeToApproveMs: number | null;
  timeToFinishMs: number | null;
}

export interface TrafficRecord {
  at: string;
  kind: string;
  action: string | null;
  layer: string | null;
  before: string | null;
  after: string | null;
  ttl: number | null;
  maxTtl: number | null;
  changeId: string | null;
}

export interface EvidenceRecord {
  at: string;
  uri: string | null;
  kind: string | null;
  pod: string | null;
  container: string | null;
  node: string | null;
  imageDigest: string | null;
  size: number | null;
  sha256: string | null;
  /** 64 hex characters: present and well-formed. */
  sha256Valid: boolean;
  startedAt: string | null;
  endedAt: string | null;
  requestedBy: string | null;
}

export interface LedgerAuditRecord {
  at: string;
  by: string;
  counts: Record<string, number>;
  divergent: number;
  rowsCompared: number | null;
  durationMs: number | null;
  since: string | null;
  csv: string | null;
  bulkDivergence: boolean;
  cdc: { healthy: boolean | null; lagSeconds: number | null; detail: string | null } | null;
}

export interface Happening {
  at: string;
  kind: string;
  by: string;
  summary: string;
}

export interface TimelineRow {
  at: string;
  step: Step | null;
  kind: string;
  actor: string;
  actorType: string;
  summary: string;
  hash: string;
  pinned?: PinnedMessage;
}

export interface PinnedMessage {
  at: string;
  by: string;
  text: string;
  author: string | null;
  originalAt: string | null;
  permalink: string | null;
}

export interface FollowUp {
  title: string;
  why: string;
  /** Times (UTC ISO) of the events it is derived from. */
  from: string[];
}

export interface Postmortem {
  schema: typeof POSTMORTEM_SCHEMA;
  generatedAt: string;
  generatedBy: string;
  draft: boolean;
  incident: {
    id: string;
    service: string;
    title: string;
    severity: string;
    status: 'active' | 'resolved';
    commander: Person;
    channel: string;
    declaredAt: string;
    resolvedAt: string | null;
    resolution: string | null;
    pagerduty: { id: string; number: number | null; url: string | null } | null;
    headlinePermalink: string | null;
  };
  keyTimes: {
    declared: KeyTime;
    firstContainmentRequested: KeyTime;
    containmentApproved: KeyTime;
    dnsInSync: KeyTime;
    clientsConverged: KeyTime;
    resolved: KeyTime;
  };
  durations: {
    timeToContainMs: number | null;
    /** What "contained" was measured to: clients converged, or DNS in sync when convergence was not recorded. */
    containedAt: 'clients converged' | 'DNS in sync' | null;
    timeToApproveMs: number | null;
    approvedBy: string | null;
    timeToResolveMs: number | null;
  };
  steps: { id: Step; title: string; state: StepState; done: boolean; last: string | null }[];
  actions: ActionRecord[];
  traffic: TrafficRecord[];
  evidence: {
    captured: EvidenceRecord[];
    failed: Happening[];
    quarantines: Happening[];
    snapshots: Happening[];
  };
  ledger: { audits: LedgerAuditRecord[]; reconciliations: Happening[] };
  sandbox: Happening[];
  breaker: {
    armed: Happening[];
    disarmed: Happening[];
    trips: (Happening & {
      values: Record<string, number>;
      thresholds: Record<string, number>;
      breaches: number | null;
    })[];
    inconclusive: number;
  };
  pagerduty: Happening[];
  /** Who held which role when, every severity change with its reason, and the status updates. */
  lifecycle: {
    roles: Happening[];
    severityChanges: Happening[];
    updates: Happening[];
    reminders: number;
    timeToFirstUpdateMs: number | null;
  };
  pinned: PinnedMessage[];
  timeline: TimelineRow[];
  verification:
    | { ok: true; events: number; head: string | null }
    | { ok: false; events: number; brokenAt: number; entry: string; reason: string };
  followUps: FollowUp[];
  humanSections: { title: string; prompt: string; content: null }[];
}

export interface BuildInput {
  incident: Incident;
  events: TimelineEvent[];
  verification: Verification;
  generatedAt: Date;
  generatedBy: string;
  headlinePermalink?: string;
}

// Tolerant readers: events written by other steps may miss fields or carry extra ones.
function obj(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
function bool(value: unknown): boolean | null {
  return typeof value === 'boolean' ? value : null;
}

/** 2026-11-26 09:41:07Z: how every time reads in the document. */
export function when(iso: string | null | undefined): string {
  if (!iso) return '?';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

function ms(from: string | null | undefined, to: string | null | undefined): number | null {
  if (!from || !to) return null;
  const d = Date.parse(to) - Date.parse(from);
  return Number.isFinite(d) ? d : null;
}

function person(actor: TimelineEvent['actor']): Person {
  return { id: actor.id, name: actor.name, type: actor.type };
}

function who(actor: TimelineEvent['actor']): string {
  return actor.type === 'user' ? actor.name : `${actor.name} (${actor.type})`;
}

/** "legacy 100% / cloud 0%" from { legacy, cloud }, or null when the shape is not that. */
export function shareText(value: unknown): string | null {
  const o = obj(value);
  const legacy = num(o.legacy);
  const cloud = num(o.cloud);
  if (legacy === null && cloud === null) return null;
  return `legacy ${legacy ?? '?'}% / cloud ${cloud ?? '?'}%`;
}

function compactJson(value: unknown, max = 300): string {
  if (value === undefined || value === null) return '(not recorded)';
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function happening(event: TimelineEvent): Happening {
  return { at: event.at, kind: event.kind, by: who(event.actor), summary: event.summary };
}

function keyTime(label: string, event: TimelineEvent | undefined, declaredAt: string): KeyTime {
  return {
    label,
    at: event?.at ?? null,
    sinceDeclaredMs: event ? ms(declaredAt, event.at) : null,
    event: event?.hash ?? null,
  };
}

function buildActions(events: TimelineEvent[], traffic: TrafficRecord[]): ActionRecord[] {
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
        break;
      }
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
    const firstApproval = record.approvers[0];
    record.timeToApproveMs = firstApproval ? ms(record.requestedAt, firstApproval.at) : null;
    record.timeToFinishMs = record.result
      ? ms(firstApproval?.at ?? record.requestedAt, record.result.at)
      : null;
  }
  return [...byId.values()];
}

function buildTraffic(events: TimelineEvent[]): TrafficRecord[] {
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

function buildEvidence(events: TimelineEvent[]): EvidenceRecord[] {
  return events
    .filter((e) => e.kind === EVIDENCE_CAPTURED)
    .map((e) => {
      const d = obj(e.data);
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

function buildAudits(events: TimelineEvent[]): LedgerAuditRecord[] {
  return events
    .filter((e) => e.kind === LEDGER_AUDITED)
    .map((e) => {
      const d = obj(e.data);
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

function numbers(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(obj(value))) {
    const n = num(v);
    if (n !== null) out[key] = n;
  }
  return out;
}

function pinnedOf(event: TimelineEvent): PinnedMessage {
  const d = obj(event.data);
  return {
    at: event.at,
    by: who(event.actor),
    text: str(d.text) ?? event.summary,
    author: str(d.author),
    originalAt: str(d.originalAt),
    permalink: str(d.permalink),
  };
}

function first(events: TimelineEvent[], test: (e: TimelineEvent) => boolean): TimelineEvent | undefined {
  return events.find(test);
}

/** Follow-ups that follow from what happened, each with the reason; nothing is invented. */
function deriveFollowUps(
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

const HUMAN_SECTIONS = [
  { title: 'Root cause', prompt: 'What failed and why, from the evidence above. The bot does not guess.' },
  {
    title: 'Impact',
    prompt:
      'Who was affected, for how long, what it cost (customers, payments, data). The key times bound it.',
  },
  { title: 'What went well', prompt: 'What helped contain and recover.' },
  { title: 'What went wrong', prompt: 'What slowed us down or made it worse.' },
  { title: 'Where we got lucky', prompt: 'What could have made it much worse but did not.' },
];

export function buildPostmortem(input: BuildInput): Postmortem {
  const { incident, events, verification } = input;
  const declaredEvent = first(events, (e) => e.kind === INCIDENT_DECLARED);
  const declaredAt = declaredEvent?.at ?? incident.declaredAt;
  const traffic = buildTraffic(events);
  const actions = buildActions(events, traffic);
  const firstContain = first(events, (e) => e.kind === 'action.requested' && e.step === 'C');
  const containId = firstContain ? str(obj(firstContain.data).action) : null;
  const approved = containId
    ? first(events, (e) => e.kind === 'action.approved' && obj(e.data).action === containId)
    : undefined;
  const inSync = first(events, (e) => e.kind === TRAFFIC_IN_SYNC);
  const converged = first(events, (e) => e.kind === TRAFFIC_CONVERGED);
  const resolvedEvent = [...events].reverse().find((e) => e.kind === INCIDENT_RESOLVED);
  const resolvedAt =
    incident.status === 'resolved' ? (resolvedEvent?.at ?? incident.resolvedAt ?? null) : null;

  const containedEvent = converged ?? inSync;
  const pagerduty = events.filter((e) => e.kind.startsWith('pagerduty.')).map(happening);
  const pinned = events.filter((e) => e.kind === TIMELINE_PINNED).map(pinnedOf);

  const base: Omit<Postmortem, 'followUps' | 'humanSections'> = {
    schema: POSTMORTEM_SCHEMA,
    generatedAt: input.generatedAt.toISOString(),
    generatedBy: input.generatedBy,
    draft: incident.status !== 'resolved',
    incident: {
      id: incident.id,
      service: incident.service,
      title: incident.title,
      severity: incident.severity,
      status: incident.status,
      commander: { id: incident.commander.id, name: incident.commander.name, type: incident.commander.type },
      channel: incident.channel,
      declaredAt,
      resolvedAt,
      resolution: incident.resolution ?? null,
      pagerduty: incident.pagerduty
        ? {
            id: incident.pagerduty.id,
            number: incident.pagerduty.number ?? null,
            url: incident.pagerduty.url ?? null,
          }
        : null,
      headlinePermalink: input.headlinePermalink ?? null,
    },
    keyTimes: {
      declared: keyTime('Declared', declaredEvent, declaredAt),
      firstContainmentRequested: keyTime('First containment requested', firstContain, declaredAt),
      containmentApproved: keyTime('Containment approved', approved, declaredAt),
      dnsInSync: keyTime('DNS in sync', inSync, declaredAt),
      clientsConverged: keyTime('Clients converged', converged, declaredAt),
      resolved: {
        ...keyTime('Resolved', resolvedAt ? resolvedEvent : undefined, declaredAt),
        at: resolvedAt,
        sinceDeclaredMs: ms(declaredAt, resolvedAt),
      },
    },
    durations: {
      timeToContainMs: containedEvent ? ms(declaredAt, containedEvent.at) : null,
      containedAt: converged ? 'clients converged' : inSync ? 'DNS in sync' : null,
      timeToApproveMs: firstContain && approved ? ms(firstContain.at, approved.at) : null,
      approvedBy: approved ? who(approved.actor) : null,
      timeToResolveMs: ms(declaredAt, resolvedAt),
    },
    steps: STEPS.map((s) => {
      const status = incident.checklist[s.id];
      return {
        id: s.id,
        title: s.title,
        state: status.state,
        done: status.state === 'done',
        last: status.last ? `${status.last.summary} (${when(status.last.at)})` : null,
      };
    }),
    actions,
    traffic,
    lifecycle: {
      roles: events.filter((e) => e.kind === INCIDENT_ROLE_ASSIGNED).map(happening),
      severityChanges: events.filter((e) => e.kind === INCIDENT_SEVERITY_CHANGED).map(happening),
      updates: events.filter((e) => e.kind === INCIDENT_STATUS_UPDATE).map(happening),
      reminders: events.filter((e) => e.kind === INCIDENT_UPDATE_REMINDER).length,
      timeToFirstUpdateMs: ms(
        declaredAt,
        first(events, (e) => e.kind === INCIDENT_STATUS_UPDATE)?.at ?? null,
      ),
    },
    evidence: {
      captured: buildEvidence(events),
      failed: events.filter((e) => e.kind === EVIDENCE_FAILED).map(happening),
      quarantines: events.filter((e) => e.kind === PODS_QUARANTINED).map(happening),
      snapshots: events.filter((e) => e.kind === 'telemetry.snapshot').map(happening),
    },
    ledger: {
      audits: buildAudits(events),
      reconciliations: events.filter((e) => e.kind === LEDGER_RECONCILED).map(happening),
    },
    sandbox: events
      .filter((e) => e.kind === SANDBOX_UP || e.kind === SANDBOX_DOWN || e.kind === SANDBOX_FAILED)
      .map(happening),
    breaker: {
      armed: events.filter((e) => e.kind === BREAKER_ARMED).map(happening),
      disarmed: events.filter((e) => e.kind === BREAKER_DISARMED).map(happening),
      trips: events
        .filter((e) => e.kind === BREAKER_TRIPPED)
        .map((e) => {
          const d = obj(e.data);
          return {
            ...happening(e),
            values: numbers(d.values),
            thresholds: numbers(d.thresholds),
            breaches: num(d.breaches),
          };
        }),
      inconclusive: events.filter((e) => e.kind === BREAKER_INCONCLUSIVE).length,
    },
    pagerduty,
    pinned,
    timeline: events.map((e) => ({
      at: e.at,
      step: e.step,
      kind: e.kind,
      actor: who(e.actor),
      actorType: e.actor.type,
      summary: e.summary,
      hash: e.hash,
      ...(e.kind === TIMELINE_PINNED ? { pinned: pinnedOf(e) } : {}),
    })),
    verification: verification.ok
      ? { ok: true, events: verification.count, head: verification.head }
      : {
          ok: false,
          events: verification.count,
          brokenAt: verification.index,
          entry: verification.id,
          reason: verification.reason,
        },
  };
  return {
    ...base,
    followUps: deriveFollowUps(base, events),
    humanSections: HUMAN_SECTIONS.map((s) => ({ ...s, content: null })),
  };
}
