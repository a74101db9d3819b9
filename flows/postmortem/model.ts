// The post-mortem as data (pure): built from the timeline's events only, read by kind, tolerant of missing fields.
import {
  BREAKER_ARMED,
  BREAKER_DISARMED,
  BREAKER_INCONCLUSIVE,
  BREAKER_TRIPPED,
  EVIDENCE_FAILED,
  INCIDENT_DECLARED,
  INCIDENT_RESOLVED,
  INCIDENT_ROLE_ASSIGNED,
  INCIDENT_SEVERITY_CHANGED,
  INCIDENT_STATUS_UPDATE,
  INCIDENT_UPDATE_REMINDER,
  LEDGER_RECONCILED,
  PODS_QUARANTINED,
  SANDBOX_DOWN,
  SANDBOX_FAILED,
  SANDBOX_UP,
  TIMELINE_PINNED,
  TRAFFIC_CONVERGED,
  TRAFFIC_IN_SYNC,
} from '../../src/events.ts';
import { STEPS } from '../../src/runbook.ts';
import { deriveFollowUps } from './follow-ups.ts';
import { first, happening, keyTime, ms, num, numbers, obj, pinnedOf, str, when, who } from './read.ts';
import { buildActions, buildAudits, buildEvidence, buildTraffic } from './records.ts';
import { drillScore } from '../drill/index.ts';
import type { BuildInput, Postmortem } from './types.ts';
import { POSTMORTEM_SCHEMA } from './types.ts';

// The records' types and the readers' exported helpers stay importable from here.
export * from './types.ts';
export { shareText, when } from './read.ts';

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
  const drill = drillScore(events);
  return {
    ...base,
    followUps: deriveFollowUps(base, events),
    ...(drill ? { drill } : {}),
    humanSections: HUMAN_SECTIONS.map((s) => ({ ...s, content: null })),
  };
}
