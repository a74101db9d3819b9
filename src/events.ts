// Timeline event kinds that other parts read back (the post-mortem, preflight, PagerDuty), with their data.
// A flow records these with Incidents.record(); readers rely on the kind and on these fields.

/** Lifecycle (flows/incident.ts, flows/pin.ts). */
export const INCIDENT_DECLARED = 'incident.declared';
export const INCIDENT_RESOLVED = 'incident.resolved';
export const TIMELINE_PINNED = 'timeline.pinned';

/**
 * Risky actions (flows/approval.ts): `action.requested|approved|denied|cancelled|expired|executing|progress|
 * succeeded|failed`, each with `data.action` (the request id) and `data.kind` (e.g. `traffic.shift`).
 * `action.requested` also carries `basis`, `change`, `changeHash` and `breakGlass` when used.
 */
export const ACTION_PREFIX = 'action.';

/** Step C: a traffic shift's milestones, recorded as they happen. */
export const TRAFFIC_SUBMITTED = 'traffic.submitted';
export const TRAFFIC_IN_SYNC = 'traffic.in_sync';
export const TRAFFIC_CONVERGED = 'traffic.converged';
export interface TrafficEventData {
  action?: string;
  layer: 'route53' | 'alb';
  /** Legacy share before and after, 0-100. */
  before: { legacy: number; cloud: number };
  after: { legacy: number; cloud: number };
  ttl?: number;
  maxTtl?: number;
  changeId?: string;
}

/** Step L: one preserved artifact (heap dump, thread dump, logs, snapshot), with its chain of custody. */
export const EVIDENCE_CAPTURED = 'evidence.captured';
export const EVIDENCE_FAILED = 'evidence.failed';
export const WORKLOAD_SNAPSHOT = 'telemetry.snapshot';
export const PODS_QUARANTINED = 'telemetry.quarantined';
export interface EvidenceEventData {
  uri: string;
  kind: string;
  pod: string;
  container: string;
  node?: string;
  imageDigest?: string;
  command?: string[];
  size: number;
  sha256: string;
  startedAt: string;
  endedAt: string;
  requestedBy: string;
}

/** Step O: a ledger audit's counts per class. */
export const LEDGER_AUDITED = 'ledger.audited';
export const LEDGER_RECONCILED = 'ledger.reconciled';
export interface LedgerAuditEventData {
  counts: {
    missing_in_legacy: number;
    missing_in_cloud: number;
    mismatched: number;
    partial: number;
    invariant: number;
    in_flight?: number;
  };
  rowsCompared: number;
  durationMs: number;
  since: string;
  csv?: string;
  bulkDivergence?: boolean;
  cdc?: { healthy: boolean; lagSeconds?: number; detail: string };
}

export const LEDGER_AUDIT_STARTED = 'ledger.audit_started';
export const LEDGER_AUDIT_FAILED = 'ledger.audit_failed';
export interface LedgerAuditFailedEventData {
  since: string;
  /** Names the side and the problem ("cloud database: the connection to … was lost"). */
  error: string;
  durationMs: number;
}
export const LEDGER_LOCKED = 'ledger.locked';
export const LEDGER_UNLOCKED = 'ledger.unlocked';
export interface LedgerLockEventData {
  action: string;
  role: string;
  table: string;
  /** The privileges revoked (locked) or granted back (unlocked), e.g. ["INSERT", "UPDATE", "DELETE"]. */
  privileges: string[];
  /** Sessions of the role ended by the lock (including any that slipped in before the commit). */
  terminated?: number;
}
export interface LedgerReconcileEventData {
  action: string;
  inserted: number;
  alreadyPresent: number;
  goneFromCloud: number;
  before: LedgerAuditEventData['counts'];
  /** Absent when the re-audit failed. */
  after?: LedgerAuditEventData['counts'];
  reauditError?: string;
}

/** Step U: sandbox lifecycle. */
export const SANDBOX_UP = 'sandbox.up';
export const SANDBOX_DOWN = 'sandbox.down';
export const SANDBOX_FAILED = 'sandbox.failed';

/** Step D: breaker and canary. */
export const BREAKER_ARMED = 'breaker.armed';
export const BREAKER_DISARMED = 'breaker.disarmed';
export const BREAKER_TRIPPED = 'breaker.tripped';
export const BREAKER_INCONCLUSIVE = 'breaker.inconclusive';
export interface BreakerTripEventData {
  values: { memory?: number; errors?: number };
  thresholds: { memory: number; errors: number };
  breaches: number;
}
