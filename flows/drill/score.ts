// The drill's score, read from the incident's timeline alone (so /postmortem scores a drill after a restart too):
// time to contain, to first approval and to evidence in story time, evidence kept before a pod restarted, the
// ledger checked and reconciled, approvals given, and the mistakes the bot had to refuse or undo.
import { formatDuration } from '../../src/duration.ts';
import * as kinds from '../../src/events.ts';
import type { TimelineEvent } from '../../src/timeline.ts';

export const DRILL_STARTED = 'drill.started';
export const DRILL_FAULT = 'drill.fault';
export const DRILL_OOM = 'drill.oom';
export const DRILL_STOPPED = 'drill.stopped';

/** Timeline kinds that are a responder's mistake the bot refused, or a change that did not happen. */
const MISTAKES = new Set([
  'action.denied',
  'action.expired',
  'action.cancelled',
  'action.failed',
  'action.tamper-refused',
  kinds.TRAFFIC_NOT_SHIFTED,
  'evidence.failed',
]);

export interface DrillScore {
  scenario: string;
  timeFactor: number;
  /** Story milliseconds from the start of the drill; null when it never happened. */
  timeToContainMs: number | null;
  timeToFirstApprovalMs: number | null;
  timeToEvidenceMs: number | null;
  approvals: number;
  mistakes: { kind: string; at: string; summary: string }[];
  /** OOMKills during the drill, and whether evidence was kept before the first of them. */
  oomKills: number;
  evidenceBeforeRestart: boolean | null;
  ledgerAudited: boolean;
  ledgerReconciled: boolean;
  faults: string[];
  /** Out of 100. */
  points: number;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The drill's score, or null when the timeline is not a drill's. */
export function drillScore(events: TimelineEvent[]): DrillScore | null {
  const started = events.find((e) => e.kind === DRILL_STARTED);
  if (!started) return null;
  const data = started.data ?? {};
  const factor = typeof data.timeFactor === 'number' && data.timeFactor > 0 ? data.timeFactor : 1;
  const t0 = Date.parse(started.at);
  const since = (e: TimelineEvent | undefined) => (e ? Math.max(0, (Date.parse(e.at) - t0) / factor) : null);
  const first = (test: (e: TimelineEvent) => boolean) =>
    events.find((e) => Date.parse(e.at) >= t0 && test(e));
  const contained = first((e) => e.kind === kinds.TRAFFIC_IN_SYNC || e.kind === kinds.TRAFFIC_CONVERGED);
  const approved = first((e) => e.kind === 'action.approved');
  const evidence = first((e) => e.kind === kinds.EVIDENCE_CAPTURED);
  const oom = events.filter((e) => e.kind === DRILL_OOM);
  const firstOom = oom[0];
  const approvals = events.filter((e) => e.kind === 'action.approved').length;
  const mistakes = events
    .filter((e) => MISTAKES.has(e.kind))
    .map((e) => ({ kind: e.kind, at: e.at, summary: e.summary }));
  const ledgerAudited = events.some((e) => e.kind === kinds.LEDGER_AUDITED);
  const ledgerReconciled = events.some((e) => e.kind === kinds.LEDGER_RECONCILED);
  // An OOMKill is found when the story is next read; its data says when it happened.
  const oomAt = (e: TimelineEvent) => Date.parse(str(e.data?.oomAt) || e.at);
  const evidenceBeforeRestart = evidence
    ? !firstOom || Date.parse(evidence.at) <= oomAt(firstOom)
    : firstOom
      ? false
      : null;
  const containMs = since(contained);
  // 40 for containing (full marks within 5 story minutes, none after 30), 20 for evidence before a restart,
  // 10 + 10 for the ledger, 20 minus 5 per mistake.
  const containPoints =
    containMs === null
      ? 0
      : Math.round(40 * Math.min(1, Math.max(0, (30 * 60_000 - containMs) / (25 * 60_000))));
  const points =
    containPoints +
    (evidenceBeforeRestart ? 20 : 0) +
    (ledgerAudited ? 10 : 0) +
    (ledgerReconciled ? 10 : 0) +
    Math.max(0, 20 - 5 * mistakes.length);
  return {
    scenario: str(data.scenario),
    timeFactor: factor,
    timeToContainMs: containMs,
    timeToFirstApprovalMs: since(approved),
    timeToEvidenceMs: since(evidence),
    approvals,
    mistakes,
    oomKills: oom.length,
    evidenceBeforeRestart,
    ledgerAudited,
    ledgerReconciled,
    faults: events.filter((e) => e.kind === DRILL_FAULT).map((e) => str(e.data?.fault)),
    points,
  };
}

function time(ms: number | null): string {
  return ms === null ? 'not done' : `${formatDuration(ms)} (story time)`;
}

/** The score as lines, for the /drill stop card and the post-mortem's "Drill score" section. */
export function scoreLines(score: DrillScore): string[] {
  return [
    `Score: ${score.points}/100 (scenario ${score.scenario}, time factor ${score.timeFactor})`,
    `Time to contain (DNS in sync): ${time(score.timeToContainMs)}`,
    `Time to first approval: ${time(score.timeToFirstApprovalMs)}`,
    `Time to evidence: ${time(score.timeToEvidenceMs)}`,
    `Evidence kept before a pod restarted: ${score.evidenceBeforeRestart === null ? 'no evidence and no restart' : score.evidenceBeforeRestart ? 'yes' : `no (${score.oomKills} OOMKill${score.oomKills === 1 ? '' : 's'} during the drill)`}`,
    `Ledger: ${score.ledgerAudited ? 'audited' : 'not audited'}, ${score.ledgerReconciled ? 'reconciled' : 'not reconciled'}`,
    `Approvals: ${score.approvals}`,
    `Mistakes: ${score.mistakes.length === 0 ? 'none' : score.mistakes.map((m) => m.kind).join(', ')}`,
    ...(score.faults.length > 0 ? [`Faults: ${score.faults.join(', ')}`] : []),
  ];
}
