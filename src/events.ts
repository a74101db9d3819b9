// Timeline event kinds that other parts read back (the post-mortem, preflight, PagerDuty), with their data.
// A flow records these with Incidents.record(); readers rely on the kind and on these fields.

/** Lifecycle (flows/incident/incident.ts, flows/incident/pin.ts). */
export const INCIDENT_DECLARED = 'incident.declared';
export const INCIDENT_RESOLVED = 'incident.resolved';
export const TIMELINE_PINNED = 'timeline.pinned';
/** A role given (`data.role`, `data.user`, `data.previous`); role commander is the handover. */
export const INCIDENT_ROLE_ASSIGNED = 'incident.role_assigned';
/** Severity changed: `data.from`, `data.to`, `data.reason`. */
export const INCIDENT_SEVERITY_CHANGED = 'incident.severity_changed';
/** A status update to responders and stakeholders: `data.text`, `data.stakeholders`, `data.sinceDeclaredMs`. */
export const INCIDENT_STATUS_UPDATE = 'incident.status_update';
/** The bot reminded the commander (and comms lead) to post an update: `data.people`, `data.quietMs`. */
export const INCIDENT_UPDATE_REMINDER = 'incident.update_reminder';
/** After resolve, the bot reminded the commander to draft the post-mortem. */
export const INCIDENT_POSTMORTEM_REMINDER = 'incident.postmortem_reminder';

/**
 * Risky actions (flows/approval/approval.ts): `action.requested|approved|denied|cancelled|expired|executing|progress|
 * succeeded|failed`, each with `data.action` (the request id) and `data.kind` (e.g. `traffic.shift`).
 * `action.requested` also carries `basis`, `change`, `changeHash` and `breakGlass` when used.
 */
export const ACTION_PREFIX = 'action.';

/**
 * Step C: a traffic shift's milestones, recorded as they happen (flows/contain/contain.ts, for /contain and automation).
 * `submitted`: the provider accepted the write; `in_sync`: Route 53 reports INSYNC (the ALB at once);
 * `converged`: TTL (or stickiness) seconds after that, when every client follows; `sync_slow`: not INSYNC after
 * 120 s; `not_shifted`: a shift was asked for and nothing was written (data.reason says why).
 */
export const TRAFFIC_SUBMITTED = 'traffic.submitted';
export const TRAFFIC_IN_SYNC = 'traffic.in_sync';
export const TRAFFIC_CONVERGED = 'traffic.converged';
export const TRAFFIC_SYNC_SLOW = 'traffic.sync_slow';
export const TRAFFIC_NOT_SHIFTED = 'traffic.not_shifted';
export interface TrafficEventData {
  action?: string;
  /** The shift operation id: the action id for /contain, the caller's key for automation. */
  op?: string;
  layer: 'arc' | 'route53' | 'alb' | 'gateway' | 'istio';
  /** Legacy share before and after, 0-100. */
  before: { legacy: number; cloud: number };
  after: { legacy: number; cloud: number };
  /** The provider's weights before and after. */
  weights?: { before: { legacy: number; cloud: number }; after: { legacy: number; cloud: number } };
  resource?: string;
  ttl?: number;
  maxTtl?: number;
  changeId?: string;
  /** in_sync: milliseconds from submission to INSYNC. */
  elapsedMs?: number;
  /** in_sync: seconds until clients converge, and why that long. */
  convergeSeconds?: number;
  convergeBasis?: string;
  recovered?: boolean;
}
export type NotShiftedReason =
  | 'legacy_unhealthy'
  | 'already_there'
  | 'would_raise_cloud'
  | 'drift'
  | 'rejected'
  | 'error'
  /** The caller's guard refused at the last moment (a canary step after the breaker tripped or it was paused). */
  | 'cancelled'
  /** The write failed or went unanswered and reality could not be read: it may or may not have happened. */
  | 'unknown';
export interface TrafficNotShiftedData {
  op?: string;
  action?: string;
  layer?: 'arc' | 'route53' | 'alb' | 'gateway' | 'istio';
  reason: NotShiftedReason;
  detail: string;
}

/** Step L: one preserved artifact (heap dump, thread dump, logs, snapshot), with its chain of custody. */
export const EVIDENCE_CAPTURED = 'evidence.captured';
export const EVIDENCE_FAILED = 'evidence.failed';
export const WORKLOAD_SNAPSHOT = 'telemetry.snapshot';
export const PODS_QUARANTINED = 'telemetry.quarantined';
export const PODS_RELEASED = 'telemetry.released';
/** A planned artifact that was deliberately not taken (no headroom, pod gone, no previous container…). */
export const EVIDENCE_SKIPPED = 'evidence.skipped';
/** The end of one /telemetry capture: counts of kept, failed and skipped artifacts. */
export const CAPTURE_FINISHED = 'telemetry.capture_finished';
export const DEBUG_CONTAINER_ADDED = 'telemetry.debug_container';
/** A step-L fault before any evidence (RBAC refusal on list, API down, quarantine refused): `data.reason`, `verb`, `resource`. */
export const TELEMETRY_FAILED = 'telemetry.failed';
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
  /** True when the size and a sha256sum computed inside the pod matched what was stored. */
  verifiedInPod?: boolean;
}
/** evidence.failed / evidence.skipped: what was attempted, why it did not complete, and what was kept. */
export interface EvidenceFailedEventData {
  kind: string;
  pod: string;
  container: string;
  node?: string;
  command?: string[];
  reason: string;
  /** Part of the artifact, stored and marked partial (never reported as complete). */
  kept?: { uri: string; size: number; sha256: string };
  startedAt: string;
  endedAt: string;
  requestedBy: string;
}
export interface QuarantineEventData {
  action?: string;
  namespace: string;
  policy: string;
  label: string;
  pods: { name: string; uid: string; node?: string; removedLabels: Record<string, string> }[];
  expiresAt: string;
  warnings: string[];
  /** Whether a probe from a peer pod showed the fence holds (a 201 for the policy is not isolation). */
  isolation?: 'confirmed' | 'not-enforced' | 'unconfirmed';
  isolationDetail?: string;
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

/**
 * Step U: sandbox lifecycle (flows/sandbox/sandbox.ts). Each carries `workspace` and `service`.
 * - `sandbox.requested`: `/sandbox up` started a Terraform apply; `image`, `evidence`, `vars` (names only), `expiresAt`.
 * - `sandbox.up`: the apply succeeded; `outputs` (sensitive ones without value), `resources`, `durationMs`.
 * - `sandbox.failed`: `phase` apply|destroy, `errors` (Terraform's error lines); destroy failures add `attempt`,
 *   `nextRetryAt` and `escalated`.
 * - `sandbox.teardown`: a destroy started; `reason` command|ttl|retry, `attempt`.
 * - `sandbox.down`: destroyed and the workspace deleted; `reason`, `removed`, `workspaceDeleted`, `durationMs`.
 * - `sandbox.load`: the load command finished; `ok`, `exitCode`, `timedOut`, `durationMs`, `tail`.
 */
export const SANDBOX_REQUESTED = 'sandbox.requested';
export const SANDBOX_UP = 'sandbox.up';
export const SANDBOX_TEARDOWN = 'sandbox.teardown';
export const SANDBOX_DOWN = 'sandbox.down';
export const SANDBOX_FAILED = 'sandbox.failed';
export const SANDBOX_LOAD = 'sandbox.load';
export interface SandboxEventData {
  workspace: string;
  service: string;
  phase?: 'apply' | 'destroy';
  reason?: 'command' | 'ttl' | 'retry';
  image?: string;
  evidence?: string[];
  outputs?: { name: string; sensitive: boolean; value?: string }[];
  errors?: string[];
  attempt?: number;
  nextRetryAt?: string;
  escalated?: boolean;
  expiresAt?: string;
  durationMs?: number;
}

/**
 * Step D: breaker and canary (flows/breaker/evaluator.ts, flows/canary/canary.ts, flows/preflight/preflight.ts).
 * - `breaker.armed`: the `breaker.arm` approval executed; `action`, `settings` (thresholds, intervalMs, failureLimit,
 *   errorLimit, onNoData), `armedBy`, `approvedBy`.
 * - `breaker.disarmed`: `by`, `previous` (armed|tripped), `action` (the arming request).
 * - `breaker.tripped`: BreakerTripEventData. The shift that follows is recorded as `traffic.*` with `op` = `trip`.
 * - `breaker.inconclusive`: errorLimit evaluations in a row gave no usable data; `count`, `last` (notes).
 * - `breaker.paged`: the trip's PagerDuty Events API page: `paged`, `dedupKey` or `reason`.
 */
export const BREAKER_ARMED = 'breaker.armed';
export const BREAKER_DISARMED = 'breaker.disarmed';
export const BREAKER_TRIPPED = 'breaker.tripped';
export const BREAKER_INCONCLUSIVE = 'breaker.inconclusive';
export const BREAKER_PAGED = 'breaker.paged';
export interface BreakerTripEventData {
  /** Each condition's value in the evaluation that tripped it (breached ones first); absent when unreadable. */
  values: Record<string, number>;
  thresholds: Record<string, number>;
  /** The conditions that breached (trips before named conditions leave it out). */
  breached?: string[];
  breaches: number;
  /** `breach`: failureLimit breaches; `no_data`: errorLimit inconclusive with onNoData: rollback. */
  reason?: 'breach' | 'no_data';
  /** The shift's op id (also on the traffic.* events). */
  trip?: string;
  /** The approval that armed it. */
  action?: string;
  /** The last evaluations, oldest first, as one line each. */
  evaluations?: string[];
}

/**
 * Canary phases: `canary.started` (`action`, `steps`, `bakeMs`), `canary.step` (`index`, `cloudPercent`, `op`),
 * `canary.paused|resumed` (`index`, `remainingMs`), `canary.completed`, `canary.rolled_back` (the breaker tripped:
 * `trip`), `canary.aborted` (`by`, `op`), `canary.failed` (a step could not be written: `detail`). All carry `canary`.
 */
export const CANARY_STARTED = 'canary.started';
export const CANARY_STEP = 'canary.step';
export const CANARY_PAUSED = 'canary.paused';
export const CANARY_RESUMED = 'canary.resumed';
export const CANARY_COMPLETED = 'canary.completed';
export const CANARY_ROLLED_BACK = 'canary.rolled_back';
export const CANARY_ABORTED = 'canary.aborted';
export const CANARY_FAILED = 'canary.failed';
/** A bake ended and cloud was compared with legacy (flows/canary/judge.ts): the decision and each condition's figures. */
export const CANARY_JUDGED = 'canary.judged';
export interface CanaryJudgedEventData {
  canary: string;
  index: number;
  cloudPercent: number;
  decision: 'worse' | 'same' | 'not_enough_data';
  comparisons: {
    condition: string;
    decision: 'worse' | 'same' | 'not_enough_data';
    legacy: { n: number; median?: number };
    cloud: { n: number; median?: number };
    p?: number;
    error?: string;
  }[];
}

/** `/preflight` (and the check before `/canary start`): each check with its status. */
export const PREFLIGHT_CHECKED = 'preflight.checked';
export interface PreflightEventData {
  service: string;
  verdict: 'ready' | 'warnings' | 'not_ready';
  checks: { id: string; status: 'pass' | 'warn' | 'fail'; detail: string }[];
  /** `canary`: run before /canary start. */
  for?: 'preflight' | 'canary';
}

/** PagerDuty mirror (flows/pagerduty/mirror.ts): link changes, resolve, and the mirror pausing or catching up. */
export const PAGERDUTY_CREATED = 'pagerduty.created';
export const PAGERDUTY_LINKED = 'pagerduty.linked';
export const PAGERDUTY_RESOLVED = 'pagerduty.resolved';
export const PAGERDUTY_UNAVAILABLE = 'pagerduty.unavailable';
export const PAGERDUTY_RECOVERED = 'pagerduty.recovered';
/** The PagerDuty incident's assignee, priority or urgency now follows the commander and severity. */
export const PAGERDUTY_UPDATED = 'pagerduty.updated';

/** `/postmortem` (flows/postmortem/postmortem.ts): where the draft went, with the SHA-256 of each file. */
export const POSTMORTEM_GENERATED = 'postmortem.generated';
export interface PostmortemEventData {
  markdown: { path?: string; permalink?: string; size: number; sha256: string };
  json: { path?: string; permalink?: string; size: number; sha256: string };
  events: number;
  head: string | null;
  verified: boolean;
  uploadError?: string;
}

/**
 * Integrations (flows/integrations/): an alert from Alertmanager or Grafana firing or resolved on the incident
 * (`data`: source, service, fingerprint, alertname, labels, annotations, startsAt, generatorURL).
 */
export const ALERT_FIRING = 'alert.firing';
export const ALERT_RESOLVED = 'alert.resolved';
/** Outbound webhooks (flows/integrations/webhooks.ts): a delivery given up (`data`: webhook, event, kind, attempts, error, status). */
export const WEBHOOK_FAILED = 'webhook.failed';
/**
 * Post-mortem out (flows/integrations/postmortem-out.ts): follow-ups filed (`data.issues`: tracker, key, url), the
 * page published (`data`: target, id, url, version), or a pass that failed (`data`: failures, attempts, giveUp).
 */
export const FOLLOWUPS_FILED = 'followups.filed';
export const POSTMORTEM_PUBLISHED = 'postmortem.published';
export const POSTMORTEM_OUT_FAILED = 'postmortem.out_failed';
