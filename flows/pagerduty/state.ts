// PagerDuty mirror, shared: its options and stored state, the keys it keeps, and how it records on the timeline.
import type { PagerDuty, PagerDutyEvents } from '../../src/adapters/pagerduty.ts';
import { PAGERDUTY_ID } from '../../src/adapters/pagerduty.ts';
import { utc } from '../../src/chat/blocks/kit.ts';
import { type Config } from '../../src/config.ts';
import type { Incident, Severity } from '../../src/incident.ts';
import type { Logger } from '../../src/log.ts';
import type { Redactor } from '../../src/redact.ts';
import type { Scheduler } from '../../src/scheduler.ts';
import { getJson, updateJson, type Store } from '../../src/store/store.ts';
import type { Tasks } from '../../src/tasks.ts';
import type { TimelineLog } from '../../src/timeline-log.ts';
import { SYSTEM, type Actor, type TimelineEvent } from '../../src/timeline.ts';
import type { Incidents } from '../incident/index.ts';

export const OWN_PREFIX = 'pagerduty.';

export interface MirrorOptions {
  /** Events appended within this window after the first become one note. */
  batchWindowMs: number;
  /** How often the lease holder looks for incidents that fell behind (restart, outage, other replicas). */
  tickMs: number;
  maxEventsPerNote: number;
  maxNoteChars: number;
  /** At most one PagerDuty call per this interval from the mirror (960 requests/min is the key's budget). */
  minCallIntervalMs: number;
  /** Backoff after a failure: base * 2^(tries-1), capped at max; a 429's ratelimit-reset wins if longer. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Only the holder of this lease mirrors; another replica takes over when it lapses. */
  leaseMs: number;
  /** How many times the breaker trigger retries a retryable Events API failure before giving up. */
  triggerAttempts: number;
  /**
   * The Events API is asynchronous: a page it accepted (202) becomes an incident some time later. For this long after
   * the breaker's page, an incident declared for the service waits for that incident to appear (looked up by dedup key
   * on every pass) instead of creating a second one and paging on-call twice.
   */
  pageIngestionMs: number;
}

export const DEFAULT_MIRROR_OPTIONS: MirrorOptions = {
  batchWindowMs: 2000,
  tickMs: 5000,
  maxEventsPerNote: 20,
  maxNoteChars: 6000,
  minCallIntervalMs: 500,
  retryBaseMs: 5000,
  retryMaxMs: 10 * 60_000,
  leaseMs: 30_000,
  triggerAttempts: 3,
  pageIngestionMs: 120_000,
};

export interface MirrorFailure {
  message: string;
  status?: number;
  /** What the mirror was doing: create, link, note, resolve. */
  during: string;
  since: string;
  attempts: number;
  nextAttemptAt: string;
  retryable: boolean;
}

/** Durable per-incident state, in the store next to the incident. */
export interface MirrorState {
  incident: string;
  pagerdutyId?: string;
  origin?: 'created' | 'linked' | 'breaker';
  /** Asked for with `declare … pagerduty=<id>`: link that one instead of creating. */
  linkRequested?: string;
  /** The create call was sent at least once: look for it by incident key before sending it again. */
  createAttempted?: boolean;
  /** Why there is nothing to mirror to (no serviceId...). */
  unconfigured?: string;
  /** Waiting for the breaker's Events API page to become an incident before creating one (see pageIngestionMs). */
  awaitingPage?: { dedupKey: string; since: string; until: string; lookups: number };
  /** The last timeline entry handled (mirrored or skipped): the stream id, and its hash to be sure. */
  cursor?: { id: string; hash: string };
  mirrored: number;
  notes: number;
  resolved?: boolean;
  /** Incidents the bot created that a person replaced with /incident link: noted and resolved as duplicates. */
  superseded?: string[];
  failure?: MirrorFailure;
  lastSyncAt?: string;
  /** The commander and severity PagerDuty was last brought in line with (first seen at link: nothing sent). */
  fields?: { commander: string; severity: Severity };
}

/** What the breaker's page left in the store: its dedup key, and when it was sent (or accepted, once it was). */
export interface BreakerTrigger {
  dedupKey: string;
  at: string;
  /** False while the trigger is being sent: its incident may exist any moment. */
  accepted?: boolean;
}

export interface BreakerPage {
  paged: boolean;
  /** Why no page was sent (an incident is open, no routing key...). */
  reason?: string;
  incident?: string;
  dedupKey?: string;
}

export interface MirrorDeps {
  store: Store;
  incidents: Incidents;
  timeline: TimelineLog;
  tasks: Tasks;
  scheduler: Scheduler;
  log: Logger;
  redactor: Redactor;
  config: Config;
  env: NodeJS.ProcessEnv;
  now: () => Date;
  instanceId: string;
  rest?: PagerDuty;
  events?: PagerDutyEvents;
  options?: Partial<MirrorOptions>;
}

const stateKey = (incident: string) => `pagerduty:mirror:${incident}`;
export const channelRequestKey = (channel: string) => `pagerduty:link-request:${channel}`;
export const breakerKey = (service: string) => `pagerduty:breaker-trigger:${service}`;
export const PENDING = 'pagerduty:mirror:pending';
export const LEASE = 'pagerduty:mirror:lease';

/** Severity to PagerDuty urgency: SEV1/SEV2 page now, SEV3/SEV4 wait for business hours. */
export function urgencyFor(severity: Severity): 'high' | 'low' {
  return severity === 'SEV1' || severity === 'SEV2' ? 'high' : 'low';
}

/** The incident key the bot creates with: unique per incident, so a retried create finds the first one. */
export function incidentKeyFor(incident: Pick<Incident, 'id' | 'declaredAt'>): string {
  return `cloud-safety/${incident.id}/${Date.parse(incident.declaredAt)}`;
}

/** "PT4KHLK" or a PagerDuty incident URL; undefined when it is neither. */
export function parsePagerDutyId(input: string): string | undefined {
  const fromUrl = /^https:\/\/[a-z0-9.-]+\.pagerduty\.com\/incidents\/([A-Za-z0-9]+)\/?(?:[?#].*)?$/i.exec(
    input,
  );
  const id = (fromUrl?.[1] ?? input).toUpperCase();
  return PAGERDUTY_ID.test(id) ? id : undefined;
}

const MAX_LINE = 1000;

export function eventLine(event: TimelineEvent): string {
  const who = event.actor.type === 'user' ? event.actor.name : `${event.actor.name} (${event.actor.type})`;
  const line = `${utc(event.at).slice(11)} ${event.step ?? '-'} ${who}: ${event.summary.replace(/\s*\n\s*/g, ' ')}`;
  return line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line;
}

/** One note for a batch of events: a header naming the incident and the day, then one line per event. */
export function noteContent(incidentId: string, events: TimelineEvent[]): string {
  const first = events[0];
  const day = first ? utc(first.at).slice(0, 10) : '';
  const header = `cloud-safety ${incidentId} timeline, ${day} UTC (${events.length} event${events.length === 1 ? '' : 's'})`;
  return [header, ...events.map(eventLine)].join('\n');
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

export function pdLabel(pd: { id: string; number?: number }): string {
  return pd.number ? `#${pd.number} (${pd.id})` : pd.id;
}

/** What the linking, notes and breaker-page files need of the mirror: its services, options and call pacing. */
export interface MirrorContext {
  deps: MirrorDeps;
  opts: MirrorOptions;
  /** Waits until the next PagerDuty call may go out (spaced by `minCallGapMs`). */
  pace(): Promise<void>;
}

export async function mirrorState(c: MirrorContext, incidentId: string): Promise<MirrorState> {
  return (
    (await getJson<MirrorState>(c.deps.store, stateKey(incidentId))) ?? {
      incident: incidentId,
      mirrored: 0,
      notes: 0,
    }
  );
}

export async function updateState(
  c: MirrorContext,
  incidentId: string,
  change: (current: MirrorState) => MirrorState | undefined,
): Promise<MirrorState> {
  const next = await updateJson<MirrorState>(c.deps.store, stateKey(incidentId), (current) =>
    change(current ?? { incident: incidentId, mirrored: 0, notes: 0 }),
  );
  return next ?? (await mirrorState(c, incidentId));
}

export async function recordEvent(
  c: MirrorContext,
  incident: Incident,
  input: { kind: string; summary: string; data: Record<string, unknown>; actor?: Actor },
): Promise<void> {
  try {
    await c.deps.incidents.record(incident.id, {
      step: null,
      kind: input.kind,
      actor: input.actor ?? SYSTEM,
      summary: input.summary,
      data: input.data,
    });
  } catch (err) {
    c.deps.log.warn({ err, incident: incident.id, kind: input.kind }, 'could not record a pagerduty event');
  }
}
