// The post-mortem as data: its schema, the records it holds, and the limits its wording refers to.
import type { Incident } from '../../src/incident.ts';
import type { DrillScore } from '../drill/index.ts';
import { type StepState } from '../../src/runbook.ts';
import type { Step, TimelineEvent, Verification } from '../../src/timeline.ts';

export const POSTMORTEM_SCHEMA = 'cloud-safety.postmortem/v1';

/** Beyond this the follow-ups call the approval path slow. */
export const SLOW_APPROVAL_MS = 5 * 60_000;
/** CDC lag above this is called lagging. */
export const CDC_LAG_LIMIT_S = 60;
export const DEFAULT_MAX_TTL = 60;

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
  /** The approval policy that applied when it was requested (absent on timelines from before policies). */
  policy: { name: string; quorum: number; approvers: string | null } | null;
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
  /** A drill incident's score (flows/drill/score.ts); absent for a real incident. */
  drill?: DrillScore;
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
