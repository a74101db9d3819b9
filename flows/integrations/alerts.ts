// Alerts in: Alertmanager (webhook v4) and Grafana alerting webhooks declare or join the service's incident, once.
import { z } from 'zod';
import { requestContain } from '../contain/index.ts';
import type { ServiceAlerts } from '../../src/config.ts';
import type { Deps } from '../../src/deps.ts';
import { UsageError } from '../../src/errors.ts';
import { ALERT_FIRING, ALERT_RESOLVED } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { getJson } from '../../src/store/store.ts';
import { sha256, type Actor } from '../../src/timeline.ts';

export type AlertSource = 'alertmanager' | 'grafana';

const Labels = z.record(z.string(), z.string());

/** One alert as both senders write it; only the fields read here are declared. */
const WireAlert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: Labels,
  annotations: Labels.default({}),
  startsAt: z.string().min(1),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  /** Alertmanager 0.19+ and Grafana send it; older senders do not, so it is derived from the labels then. */
  fingerprint: z.string().min(1).optional(),
});

/** Prometheus Alertmanager webhook payload, version 4. */
export const AlertmanagerPayload = z.object({
  version: z.literal('4', {
    error: 'version must be "4" (the Alertmanager webhook payload this receiver reads)',
  }),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  externalURL: z.string().optional(),
  alerts: z.array(WireAlert),
});

/** Grafana alerting's webhook contact point payload (it extends Alertmanager's with orgId, title, state, message). */
export const GrafanaPayload = z.object({
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupKey: z.string(),
  orgId: z.number().int(),
  truncatedAlerts: z.number().int().nonnegative().default(0),
  title: z.string().optional(),
  externalURL: z.string().optional(),
  alerts: z.array(WireAlert),
});

export interface Alert {
  source: AlertSource;
  fingerprint: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  generatorURL?: string;
}

/** Parses a body into alerts, or a UsageError naming the first field that is wrong. */
export function parseAlerts(source: AlertSource, body: unknown): { alerts: Alert[]; truncated: number } {
  const schema = source === 'alertmanager' ? AlertmanagerPayload : GrafanaPayload;
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
    throw new UsageError(
      `Not a ${source === 'alertmanager' ? 'Prometheus Alertmanager (webhook v4)' : 'Grafana alerting webhook'} payload: ${where}: ${issue?.message ?? 'invalid'}.`,
    );
  }
  const alerts = result.data.alerts.map((a): Alert => ({
    source,
    fingerprint: a.fingerprint ?? labelFingerprint(a.labels),
    status: a.status,
    labels: a.labels,
    annotations: a.annotations,
    startsAt: a.startsAt,
    ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}),
  }));
  return { alerts, truncated: result.data.truncatedAlerts };
}

/** Stands in for a missing fingerprint: the same label set always gives the same one. */
export function labelFingerprint(labels: Record<string, string>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join('\u0000');
  return sha256(sorted).slice(0, 16);
}

/** The first configured service whose matchers all hold for these labels. */
export function serviceFor(
  services: Record<string, { alerts?: ServiceAlerts | undefined }>,
  labels: Record<string, string>,
): string | undefined {
  for (const [name, service] of Object.entries(services)) {
    const match = service.alerts?.match;
    if (!match) continue;
    const ok = Object.entries(match).every(([label, want]) => {
      const value = labels[label];
      return value !== undefined && (Array.isArray(want) ? want.includes(value) : want === value);
    });
    if (ok) return name;
  }
  return undefined;
}

/** What became of each alert in a notification. */
export interface IntakeResult {
  declared: string[];
  attached: string[];
  resolved: string[];
  duplicates: number;
  unmatched: number;
  truncated: number;
}

interface AlertRecord {
  /** Empty while claimed and not yet on an incident. */
  incident: string;
  status: 'firing' | 'resolved';
  startsAt: string;
  claimedAt?: number;
}

/** A claim this old that never reached an incident belonged to a replica that died: the alert is taken up again. */
export const STALE_CLAIM_MS = 2 * 60_000;

const recordKey = (service: string, fingerprint: string) => `alerts:${service}:${fingerprint}`;
const containKey = (incident: string) => `alerts:contain-requested:${incident}`;

function actorFor(source: AlertSource): Actor {
  return source === 'alertmanager'
    ? { type: 'system', id: 'alertmanager', name: 'Alertmanager' }
    : { type: 'system', id: 'grafana', name: 'Grafana' };
}

function alertName(alert: Alert): string {
  return alert.labels.alertname ?? alert.labels.__alert_rule_uid__ ?? alert.fingerprint;
}

function eventData(alert: Alert, service: string): Record<string, unknown> {
  return {
    source: alert.source,
    service,
    fingerprint: alert.fingerprint,
    alertname: alertName(alert),
    labels: alert.labels,
    annotations: alert.annotations,
    startsAt: alert.startsAt,
    ...(alert.generatorURL ? { generatorURL: alert.generatorURL } : {}),
  };
}

/**
 * Takes one notification's alerts, in order. A firing alert is new when its fingerprint has not fired since it last
 * resolved (a later `startsAt` is a new occurrence); the claim is a compare-and-set, so the same group delivered to
 * two replicas at once is handled once.
 */
export async function receiveAlerts(deps: Deps, alerts: Alert[], truncated = 0): Promise<IntakeResult> {
  const result: IntakeResult = {
    declared: [],
    attached: [],
    resolved: [],
    duplicates: 0,
    unmatched: 0,
    truncated,
  };
  for (const alert of alerts) {
    const service = serviceFor(deps.config.services, alert.labels);
    if (!service) {
      result.unmatched++;
      continue;
    }
    if (alert.status === 'firing') await fire(deps, service, alert, result);
    else await resolve(deps, service, alert, result);
  }
  if (result.unmatched > 0) {
    deps.log.info(
      { unmatched: result.unmatched, source: alerts[0]?.source },
      'alerts matched no service alerts.match',
    );
  }
  return result;
}

async function fire(deps: Deps, service: string, alert: Alert, result: IntakeResult): Promise<void> {
  const { store, incidents, config } = deps;
  const key = recordKey(service, alert.fingerprint);
  const raw = await store.get(key);
  const seen = raw === null ? null : (JSON.parse(raw) as AlertRecord);
  const stale = seen?.incident === '' && (seen.claimedAt ?? 0) + STALE_CLAIM_MS < deps.now().getTime();
  if (seen?.status === 'firing' && seen.startsAt === alert.startsAt && !stale) {
    result.duplicates++;
    return;
  }
  const settings = config.services[service]?.alerts;
  const channel = config.services[service]?.channel;
  if (!settings || !channel) return;
  const actor = actorFor(alert.source);
  // Claim the occurrence before touching the incident: the loser of a race is a duplicate.
  const claim: AlertRecord = {
    incident: '',
    status: 'firing',
    startsAt: alert.startsAt,
    claimedAt: deps.now().getTime(),
  };
  if (!(await store.compareAndSet(key, raw, JSON.stringify(claim)))) {
    result.duplicates++;
    return;
  }
  const summary = alert.annotations.summary ?? alert.annotations.description;
  let incident: Incident | null = await incidents.active(channel);
  let declared = false;
  if (!incident) {
    try {
      incident = await incidents.declare({
        service,
        title: `${alertName(alert)}${summary ? `: ${summary}` : ''}`.slice(0, 200),
        severity: settings.severity,
        channel,
        actor,
      });
      declared = true;
    } catch (err) {
      // Another alert (or a person) declared in this channel a moment ago: join that incident.
      if (!(err instanceof UsageError)) throw err;
      incident = await incidents.active(channel);
      if (!incident) throw err;
    }
  }
  await incidents.record(incident.id, {
    step: null,
    kind: ALERT_FIRING,
    actor,
    summary: `${actor.name}: ${alertName(alert)} firing on ${service}${summary ? ` (${summary})` : ''}`,
    data: eventData(alert, service),
  });
  await store.set(key, JSON.stringify({ ...claim, incident: incident.id } satisfies AlertRecord));
  (declared ? result.declared : result.attached).push(incident.id);
  if (settings.requestContain) requestContainOnce(deps, incident, service, actor);
}

/** One /contain request per incident from alerts; the approval card waits for two people like any other. */
function requestContainOnce(deps: Deps, incident: Incident, service: string, actor: Actor): void {
  deps.tasks.run(`alerts:contain:${incident.id}`, async () => {
    if (!(await deps.store.set(containKey(incident.id), '1', { ifAbsent: true }))) return;
    try {
      await requestContain(deps, { incident, service, legacyPercent: 100, requester: actor });
    } catch (err) {
      // requestContain records why on the timeline; the alert itself is already handled.
      deps.log.warn({ err, incident: incident.id, service }, 'contain requested by an alert was not posted');
    }
  });
}

async function resolve(deps: Deps, service: string, alert: Alert, result: IntakeResult): Promise<void> {
  const { store, incidents } = deps;
  const key = recordKey(service, alert.fingerprint);
  const raw = await store.get(key);
  const seen = raw === null ? null : (JSON.parse(raw) as AlertRecord);
  if (!seen || seen.status !== 'firing' || !seen.incident) {
    result.duplicates++;
    return;
  }
  const next: AlertRecord = { ...seen, status: 'resolved' };
  if (!(await store.compareAndSet(key, raw, JSON.stringify(next)))) {
    result.duplicates++;
    return;
  }
  const actor = actorFor(alert.source);
  await incidents.record(seen.incident, {
    step: null,
    kind: ALERT_RESOLVED,
    actor,
    summary: `${actor.name}: ${alertName(alert)} resolved on ${service}`,
    data: eventData(alert, service),
  });
  result.resolved.push(seen.incident);
}

/** Reads what the receiver knows of one alert (for the API and tests). */
export function alertRecord(deps: Deps, service: string, fingerprint: string): Promise<AlertRecord | null> {
  return getJson<AlertRecord>(deps.store, recordKey(service, fingerprint));
}
