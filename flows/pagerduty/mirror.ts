// PagerDuty in step with the channel: create or link the PagerDuty incident, mirror the timeline as notes, resolve it.
// Runs beside the incident flow, never in its way: a PagerDuty outage pauses the mirror, it never fails a command.
import { Leadership } from '../../src/lease.ts';
import type { PagerDuty, PagerDutyEvents, PagerDutyIncident } from '../../src/adapters/pagerduty.ts';
import { PAGERDUTY_ID, PagerDutyError } from '../../src/adapters/pagerduty.ts';
import { utc } from '../../src/chat/blocks/kit.ts';
import { resolveSecret, type Config } from '../../src/config.ts';
import { formatDuration } from '../../src/duration.ts';
import { ExternalServiceError, UsageError } from '../../src/errors.ts';
import {
  INCIDENT_RESOLVED,
  PAGERDUTY_CREATED,
  PAGERDUTY_LINKED,
  PAGERDUTY_RECOVERED,
  PAGERDUTY_RESOLVED,
  PAGERDUTY_UNAVAILABLE,
} from '../../src/events.ts';
import type { Incident, Severity } from '../../src/incident.ts';
import type { Logger } from '../../src/log.ts';
import type { Redactor } from '../../src/redact.ts';
import type { Scheduler } from '../../src/scheduler.ts';
import { getJson, updateJson, type Store } from '../../src/store/store.ts';
import type { Tasks } from '../../src/tasks.ts';
import { TimelineLog } from '../../src/timeline-log.ts';
import { SYSTEM, type Actor, type StoredEvent, type TimelineEvent } from '../../src/timeline.ts';
import type { Incidents } from '../incident/incident.ts';

/** The kinds this flow records (src/events.ts) are not mirrored back to PagerDuty as notes. */
const OWN_PREFIX = 'pagerduty.';

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
  /** The last timeline entry handled (mirrored or skipped): the stream id, and its hash to be sure. */
  cursor?: { id: string; hash: string };
  mirrored: number;
  notes: number;
  resolved?: boolean;
  /** Incidents the bot created that a person replaced with /incident link: noted and resolved as duplicates. */
  superseded?: string[];
  failure?: MirrorFailure;
  lastSyncAt?: string;
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
const channelRequestKey = (channel: string) => `pagerduty:link-request:${channel}`;
const breakerKey = (service: string) => `pagerduty:breaker-trigger:${service}`;
const PENDING = 'pagerduty:mirror:pending';
const LEASE = 'pagerduty:mirror:lease';

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

function eventLine(event: TimelineEvent): string {
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

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

function pdLabel(pd: { id: string; number?: number }): string {
  return pd.number ? `#${pd.number} (${pd.id})` : pd.id;
}

export class PagerDutyMirror {
  #deps: MirrorDeps;
  #opts: MirrorOptions;
  /** Only the replica holding this mirrors, so PagerDuty never gets a note twice. */
  #leadership: Leadership;
  #running = new Set<string>();
  #again = new Set<string>();
  #batching = new Set<string>();
  #nextCallAt = 0;

  constructor(deps: MirrorDeps) {
    this.#deps = deps;
    this.#opts = { ...DEFAULT_MIRROR_OPTIONS, ...deps.options };
    this.#leadership = new Leadership(deps.store, LEASE, {
      owner: deps.instanceId,
      ttlMs: this.#opts.leaseMs,
      onLost: (reason) => deps.log.warn({ reason }, 'pagerduty mirror lease lost; another replica mirrors'),
    });
    if (deps.rest) {
      deps.timeline.onAppend((event) => this.#onAppend(event));
      deps.scheduler.every('pagerduty-mirror', this.#opts.tickMs, () => this.tick());
    }
  }

  /** Gives the mirror lease up (shutdown): another replica mirrors from its next tick. */
  async release(): Promise<void> {
    await this.#leadership.release();
  }

  /** True when the REST API is configured (PAGERDUTY_TOKEN). */
  get enabled(): boolean {
    return this.#deps.rest !== undefined;
  }

  async state(incidentId: string): Promise<MirrorState> {
    return (
      (await getJson<MirrorState>(this.#deps.store, stateKey(incidentId))) ?? {
        incident: incidentId,
        mirrored: 0,
        notes: 0,
      }
    );
  }

  async #update(
    incidentId: string,
    change: (current: MirrorState) => MirrorState | undefined,
  ): Promise<MirrorState> {
    const next = await updateJson<MirrorState>(this.#deps.store, stateKey(incidentId), (current) =>
      change(current ?? { incident: incidentId, mirrored: 0, notes: 0 }),
    );
    return next ?? (await this.state(incidentId));
  }

  #onAppend(event: TimelineEvent): void {
    const id = event.incident;
    this.#deps.tasks.run(`pagerduty:append:${id}`, async () => {
      await this.#deps.store.addToSet(PENDING, id);
      this.#scheduleBatch(id);
    });
  }

  /** The first event of a burst opens a window; everything appended in it goes out as one note. */
  #scheduleBatch(incidentId: string): void {
    if (this.#batching.has(incidentId)) return;
    this.#batching.add(incidentId);
    this.#deps.tasks.run(`pagerduty:batch:${incidentId}`, async () => {
      await sleep(this.#opts.batchWindowMs);
      this.#batching.delete(incidentId);
      await this.sync(incidentId);
    });
  }

  /** One pass over every incident that may be behind; only the lease holder does anything. */
  async tick(): Promise<void> {
    const { store, incidents } = this.#deps;
    if (!this.enabled) return;
    if (!(await this.#leadership.lead())) return;
    const ids = new Set(await store.members(PENDING));
    for (const incident of await incidents.listActive()) ids.add(incident.id);
    for (const id of ids) await this.sync(id);
  }

  /** Brings one incident's PagerDuty side up to date; concurrent calls for the same incident run one after another. */
  async sync(incidentId: string): Promise<void> {
    if (!this.enabled) return;
    if (this.#running.has(incidentId)) {
      this.#again.add(incidentId);
      return;
    }
    this.#running.add(incidentId);
    try {
      do {
        this.#again.delete(incidentId);
        await this.#syncOnce(incidentId);
      } while (this.#again.has(incidentId));
    } catch (err) {
      this.#deps.log.warn({ err, incident: incidentId }, 'pagerduty mirror pass failed');
    } finally {
      this.#running.delete(incidentId);
    }
  }

  async #syncOnce(incidentId: string): Promise<void> {
    const { store, incidents } = this.#deps;
    if (!(await this.#leadership.lead())) return;
    let incident = await incidents.get(incidentId);
    if (!incident) {
      await store.removeFromSet(PENDING, incidentId);
      return;
    }
    let state = await this.state(incidentId);
    if (state.failure && Date.parse(state.failure.nextAttemptAt) > this.#deps.now().getTime()) return;
    // Config does not change while running: an incident with nowhere to mirror to stays that way until linked.
    if (!incident.pagerduty && state.unconfigured && !state.linkRequested) {
      await store.removeFromSet(PENDING, incidentId);
      return;
    }
    const head = await store.get(TimelineLog.headKey(incidentId));
    const caughtUp = () =>
      state.cursor?.hash === head &&
      (incident?.status !== 'resolved' || state.resolved === true) &&
      (state.superseded ?? []).length === 0;
    if (incident.pagerduty && state.pagerdutyId === incident.pagerduty.id && caughtUp() && !state.failure) {
      await this.#settle(incidentId, head);
      return;
    }
    let during = 'link';
    try {
      if (!incident.pagerduty || state.pagerdutyId !== incident.pagerduty.id) {
        incident = await this.#ensureLinked(incident, state);
        state = await this.state(incidentId);
      }
      const pd = incident.pagerduty;
      if (!pd || state.pagerdutyId !== pd.id) {
        await this.#settle(incidentId, head, true);
        return;
      }
      during = 'supersede';
      for (const old of state.superseded ?? []) await this.#supersede(incident, old, pd);
      during = 'note';
      const flushed = await this.#flushNotes(incident, pd.id);
      state = flushed.state;
      // Incidents.resolve records its event before it flips the status: either one means resolved.
      if ((incident.status === 'resolved' || flushed.resolution !== undefined) && !state.resolved) {
        during = 'resolve';
        await this.#resolve(incident, pd.id, incident.resolution ?? flushed.resolution);
      }
      const before = state.failure;
      state = await this.#update(incidentId, (current) => {
        const { failure: _failure, ...rest } = current;
        return { ...rest, lastSyncAt: this.#deps.now().toISOString() };
      });
      if (before) {
        await this.#record(incident, {
          kind: PAGERDUTY_RECOVERED,
          summary: `PagerDuty mirror caught up after ${before.attempts} failed tr${before.attempts === 1 ? 'y' : 'ies'} since ${utc(before.since)}`,
          data: { pagerduty: pd.id, attempts: before.attempts, since: before.since },
        });
      }
      await this.#settle(incidentId, await store.get(TimelineLog.headKey(incidentId)));
    } catch (err) {
      await this.#failed(incident, err, during);
    }
  }

  /** Leaves the pending set once nothing is left; re-joins it if an event slipped in meanwhile. */
  async #settle(incidentId: string, head: string | null, nothingToMirror = false): Promise<void> {
    const { store } = this.#deps;
    await store.removeFromSet(PENDING, incidentId);
    if (nothingToMirror) return;
    const state = await this.state(incidentId);
    if ((await store.get(TimelineLog.headKey(incidentId))) !== (state.cursor?.hash ?? head)) {
      await store.addToSet(PENDING, incidentId);
    }
  }

  async #pace(): Promise<void> {
    const wait = this.#nextCallAt - Date.now();
    this.#nextCallAt = Math.max(Date.now(), this.#nextCallAt) + this.#opts.minCallIntervalMs;
    await sleep(wait);
  }

  /** Links the incident asked for, or finds the one created before a crash, or creates one. */
  async #ensureLinked(incident: Incident, state: MirrorState): Promise<Incident> {
    const { store, config } = this.#deps;
    const rest = this.#deps.rest;
    if (!rest) return incident;
    const channelRequest = await store.get(channelRequestKey(incident.channel));
    // requestLink() moves the request from the channel onto the incident's state, state first: when the channel's is
    // gone, re-read the state, or a pass that read the state before the move and the channel after it pages anew.
    const linkRequested = channelRequest
      ? state.linkRequested
      : (await this.state(incident.id)).linkRequested;
    const requested = linkRequested ?? state.linkRequested ?? channelRequest ?? undefined;
    if (requested) {
      await this.#pace();
      const pd = await rest.getIncident(requested);
      const linked = await this.#link(incident, pd, 'linked');
      await store.del(channelRequestKey(incident.channel));
      await this.#record(linked, {
        kind: PAGERDUTY_LINKED,
        summary: `Linked to PagerDuty ${pdLabel(pd)} "${pd.title}" as asked at declaration${pd.url ? `: ${pd.url}` : ''}`,
        data: { pagerduty: pd.id, number: pd.number, url: pd.url, status: pd.status },
      });
      return linked;
    }
    // Paging now for an incident that is already over would wake someone for nothing; but a create that did get
    // through before must be found, so it is resolved too.
    if (incident.status === 'resolved') {
      let earlier: PagerDutyIncident | undefined;
      if (state.createAttempted) {
        await this.#pace();
        earlier = (await rest.findByIncidentKey(incidentKeyFor(incident)))[0];
      }
      if (earlier) {
        const linked = await this.#link(incident, earlier, 'created');
        await this.#record(linked, {
          kind: PAGERDUTY_CREATED,
          summary: `PagerDuty incident ${pdLabel(earlier)} found: an earlier create went through although PagerDuty did not answer; it gets the timeline and is resolved`,
          data: {
            pagerduty: earlier.id,
            number: earlier.number,
            url: earlier.url,
            incidentKey: incidentKeyFor(incident),
          },
        });
        return linked;
      }
      await this.#update(incident.id, (current) => ({
        ...current,
        unconfigured: 'resolved before a PagerDuty incident could be created, so nobody was paged',
      }));
      return incident;
    }
    const serviceId = config.services[incident.service]?.pagerduty?.serviceId;
    if (!serviceId) {
      await this.#update(incident.id, (current) => ({
        ...current,
        unconfigured: `no pagerduty.serviceId for ${incident.service}`,
      }));
      return incident;
    }
    const key = incidentKeyFor(incident);
    let found: PagerDutyIncident | undefined;
    let origin: MirrorState['origin'] = 'created';
    if (state.createAttempted) {
      await this.#pace();
      found = (await rest.findByIncidentKey(key))[0];
    }
    if (!found) {
      // A breaker trip may have paged through the Events API moments before this incident was declared.
      const trigger = await getJson<{ dedupKey: string; at: string }>(store, breakerKey(incident.service));
      if (trigger) {
        await this.#pace();
        found = (await rest.findByIncidentKey(trigger.dedupKey)).find((i) => i.status !== 'resolved');
        if (found) origin = 'breaker';
      }
    }
    if (!found) {
      await this.#update(incident.id, (current) => ({ ...current, createAttempted: true }));
      await this.#pace();
      try {
        found = await rest.createIncident({
          serviceId,
          title: `[${incident.id}] ${incident.service}: ${incident.title}`,
          urgency: config.services[incident.service]?.pagerduty?.urgency ?? urgencyFor(incident.severity),
          incidentKey: key,
          details: [
            `Declared in Slack by ${incident.commander.name} at ${utc(incident.declaredAt)} (${incident.severity}).`,
            `cloud-safety ${incident.id} on ${incident.service}: its timeline is mirrored here as notes.`,
          ].join('\n'),
        });
      } catch (err) {
        // An open incident already has our key: the earlier create went through after all.
        if (!(err instanceof PagerDutyError && err.status === 400 && /incident.?key/i.test(err.message)))
          throw err;
        found = (await rest.findByIncidentKey(key))[0];
        if (!found) throw err;
      }
    }
    const linked = await this.#link(incident, found, origin);
    await this.#record(linked, {
      kind: origin === 'breaker' ? PAGERDUTY_LINKED : PAGERDUTY_CREATED,
      summary:
        origin === 'breaker'
          ? `Linked to PagerDuty ${pdLabel(found)}, opened by the breaker's page${found.url ? `: ${found.url}` : ''}`
          : `PagerDuty incident ${pdLabel(found)} ${state.createAttempted ? 'found' : 'created'} on service ${serviceId} (${found.urgency ?? 'default'} urgency)${found.url ? `: ${found.url}` : ''}`,
      data: { pagerduty: found.id, number: found.number, url: found.url, serviceId, incidentKey: key },
    });
    return linked;
  }

  async #link(
    incident: Incident,
    pd: PagerDutyIncident,
    origin: NonNullable<MirrorState['origin']>,
  ): Promise<Incident> {
    const link = {
      id: pd.id,
      ...(pd.url ? { url: pd.url } : {}),
      ...(pd.number ? { number: pd.number } : {}),
    };
    await this.#update(incident.id, (current) => {
      const {
        cursor: _cursor,
        failure: _failure,
        unconfigured: _u,
        linkRequested: _l,
        resolved: _r,
        ...rest
      } = current;
      const superseded =
        current.origin === 'created' && current.pagerdutyId && current.pagerdutyId !== pd.id
          ? [...(current.superseded ?? []), current.pagerdutyId]
          : (current.superseded ?? []);
      // A new PagerDuty incident gets the whole timeline, from the first event.
      return {
        ...rest,
        pagerdutyId: pd.id,
        origin,
        ...(superseded.length > 0 ? { superseded } : {}),
      };
    });
    const updated = await this.#deps.incidents.update(incident.id, (current) => ({
      ...current,
      pagerduty: link,
    }));
    this.#deps.incidents.refreshHeadline(incident.id);
    return updated;
  }

  /** Posts every event after the cursor, in batches; the cursor moves only past what PagerDuty accepted. */
  async #flushNotes(
    incident: Incident,
    pagerdutyId: string,
  ): Promise<{ state: MirrorState; resolution?: string }> {
    const rest = this.#deps.rest;
    let state = await this.state(incident.id);
    if (!rest) return { state };
    const stored = await this.#deps.timeline.readStored(incident.id);
    const resolvedEvent = stored.find((s) => s.event?.kind === INCIDENT_RESOLVED)?.event;
    const resolution = resolvedEvent
      ? typeof resolvedEvent.data.summary === 'string'
        ? resolvedEvent.data.summary
        : ''
      : undefined;
    let start = 0;
    if (state.cursor) {
      const cursor = state.cursor;
      const at = stored.findIndex((s) => s.id === cursor.id);
      const byHash = at >= 0 ? at : stored.findIndex((s) => s.event?.hash === cursor.hash);
      if (byHash < 0) {
        this.#deps.log.warn(
          { incident: incident.id, cursor: cursor.id },
          'pagerduty cursor not on the timeline; mirroring from the start',
        );
      }
      start = byHash + 1;
    }
    const pending = stored.slice(start);
    let batch: StoredEvent[] = [];
    let lines = 0;
    let count = 0;
    const flush = async (through: StoredEvent | undefined) => {
      if (!through) return;
      const events = batch.flatMap((s) => (s.event && !s.event.kind.startsWith(OWN_PREFIX) ? [s.event] : []));
      if (events.length > 0) {
        await this.#pace();
        await rest.addNote(pagerdutyId, this.#deps.redactor.text(noteContent(incident.id, events)));
      }
      const cursor = { id: through.id, hash: through.event?.hash ?? '' };
      state = await this.#update(incident.id, (current) =>
        current.pagerdutyId !== pagerdutyId
          ? undefined // relinked meanwhile: the new link starts over on its own
          : {
              ...current,
              cursor,
              mirrored: current.mirrored + events.length,
              notes: current.notes + (events.length > 0 ? 1 : 0),
            },
      );
      batch = [];
      lines = 0;
      count = 0;
    };
    for (const entry of pending) {
      const mirrored = entry.event && !entry.event.kind.startsWith(OWN_PREFIX);
      const length = mirrored && entry.event ? eventLine(entry.event).length + 1 : 0;
      if (mirrored && (count >= this.#opts.maxEventsPerNote || lines + length > this.#opts.maxNoteChars)) {
        await flush(batch[batch.length - 1]);
      }
      batch.push(entry);
      lines += length;
      if (mirrored) count += 1;
    }
    await flush(batch[batch.length - 1]);
    return { state, ...(resolution !== undefined ? { resolution } : {}) };
  }

  async #resolve(incident: Incident, pagerdutyId: string, resolution: string | undefined): Promise<void> {
    const rest = this.#deps.rest;
    if (!rest) return;
    await this.#pace();
    const result = await rest.resolveIncident(
      pagerdutyId,
      this.#deps.redactor.text(
        `Resolved in Slack (cloud-safety ${incident.id})${resolution ? `: ${resolution}` : ''}`,
      ),
    );
    await this.#update(incident.id, (current) =>
      current.pagerdutyId === pagerdutyId ? { ...current, resolved: true } : undefined,
    );
    await this.#record(incident, {
      kind: PAGERDUTY_RESOLVED,
      summary: result
        ? `PagerDuty ${pdLabel({ id: pagerdutyId, ...(incident.pagerduty?.number ? { number: incident.pagerduty.number } : {}) })} resolved`
        : `PagerDuty ${pagerdutyId} was already resolved there`,
      data: { pagerduty: pagerdutyId, alreadyResolved: result === null },
    });
  }

  /** The bot's own incident, replaced by a linked one: say so there and resolve it, so it stops paging. */
  async #supersede(
    incident: Incident,
    oldId: string,
    current: { id: string; number?: number },
  ): Promise<void> {
    const rest = this.#deps.rest;
    if (!rest) return;
    await this.#pace();
    await rest.addNote(
      oldId,
      `Duplicate: cloud-safety ${incident.id} is now linked to PagerDuty ${pdLabel(current)}; this incident, created by the bot, is resolved as its duplicate.`,
    );
    await this.#pace();
    await rest.resolveIncident(oldId, `Duplicate of ${pdLabel(current)} (cloud-safety ${incident.id})`);
    await this.#update(incident.id, (state) => {
      const { superseded, ...rest } = state;
      const left = (superseded ?? []).filter((id) => id !== oldId);
      return left.length > 0 ? { ...rest, superseded: left } : rest;
    });
    await this.#record(incident, {
      kind: PAGERDUTY_RESOLVED,
      summary: `PagerDuty ${oldId} (created by the bot) resolved as a duplicate of ${pdLabel(current)}`,
      data: { pagerduty: oldId, duplicateOf: current.id },
    });
  }

  async #failed(incident: Incident, err: unknown, during: string): Promise<void> {
    const { now, log } = this.#deps;
    const known = err instanceof ExternalServiceError;
    const message = known ? err.message : `internal error: ${(err as Error).message}`;
    const retryable = known ? err.retryable : true;
    const status = known ? err.status : undefined;
    const retryAfterMs = err instanceof PagerDutyError ? err.retryAfterMs : undefined;
    let first = false;
    const state = await this.#update(incident.id, (current) => {
      const attempts = (current.failure?.attempts ?? 0) + 1;
      first = current.failure === undefined;
      // Retryable: back off exponentially. A refusal (bad key, unknown id): try again rarely, so a fix is picked up.
      let delay = retryable
        ? Math.min(this.#opts.retryBaseMs * 2 ** (attempts - 1), this.#opts.retryMaxMs)
        : this.#opts.retryMaxMs;
      if (retryAfterMs !== undefined) delay = Math.max(delay, retryAfterMs);
      return {
        ...current,
        failure: {
          message,
          during,
          since: current.failure?.since ?? now().toISOString(),
          attempts,
          nextAttemptAt: new Date(now().getTime() + delay).toISOString(),
          retryable,
          ...(status !== undefined ? { status } : {}),
        },
      };
    });
    log.warn(
      {
        incident: incident.id,
        during,
        status,
        attempts: state.failure?.attempts,
        err: known ? undefined : err,
      },
      'pagerduty mirror paused',
    );
    await this.#deps.store.addToSet(PENDING, incident.id);
    if (first) {
      await this.#record(incident, {
        kind: PAGERDUTY_UNAVAILABLE,
        summary: `PagerDuty mirror paused (${during}): ${message} Next try ${utc(state.failure?.nextAttemptAt ?? '')}; commands are not affected.`,
        data: { during, status, retryable, message },
      });
    }
  }

  async #record(
    incident: Incident,
    input: { kind: string; summary: string; data: Record<string, unknown>; actor?: Actor },
  ): Promise<void> {
    try {
      await this.#deps.incidents.record(incident.id, {
        step: null,
        kind: input.kind,
        actor: input.actor ?? SYSTEM,
        summary: input.summary,
        data: input.data,
      });
    } catch (err) {
      this.#deps.log.warn(
        { err, incident: incident.id, kind: input.kind },
        'could not record a pagerduty event',
      );
    }
  }

  /** Declare with `pagerduty=<id>`: asked before the incident exists, so the first pass links instead of creating. */
  async requestLinkForChannel(channel: string, pagerdutyId: string): Promise<void> {
    await this.#deps.store.set(channelRequestKey(channel), pagerdutyId, { ttlMs: 10 * 60_000 });
  }

  async cancelChannelRequest(channel: string): Promise<void> {
    await this.#deps.store.del(channelRequestKey(channel));
  }

  /** Moves a channel's request onto the declared incident and starts the mirror at once. */
  async requestLink(incident: Incident, pagerdutyId: string): Promise<void> {
    await this.#update(incident.id, (current) =>
      current.pagerdutyId ? undefined : { ...current, linkRequested: pagerdutyId },
    );
    await this.#deps.store.del(channelRequestKey(incident.channel));
  }

  /**
   * `/incident link <id>`: reads the PagerDuty incident (the person is waiting for the answer), links it,
   * and copies the whole timeline there. A duplicate the bot had created is noted and resolved.
   */
  async link(incident: Incident, pagerdutyId: string, actor: Actor): Promise<PagerDutyIncident> {
    const rest = this.#deps.rest;
    if (!rest) {
      throw new UsageError(
        'PagerDuty is not set up here: set PAGERDUTY_TOKEN (a REST API key) and PAGERDUTY_FROM (the email the bot acts as), then restart.',
      );
    }
    if (incident.pagerduty?.id === pagerdutyId) {
      throw new UsageError(
        `${incident.id} is already linked to PagerDuty ${pdLabel(incident.pagerduty)}; nothing changed.`,
      );
    }
    const pd = await rest.getIncident(pagerdutyId);
    if (pd.status === 'resolved') {
      throw new UsageError(
        `PagerDuty ${pdLabel(pd)} "${pd.title}" is already resolved; link an open incident, or reopen it in PagerDuty first. Nothing changed.`,
      );
    }
    const previous = incident.pagerduty;
    await this.#link(incident, pd, 'linked');
    await this.#deps.incidents.record(incident.id, {
      step: null,
      kind: PAGERDUTY_LINKED,
      actor,
      summary: `${actor.name} linked ${incident.id} to PagerDuty ${pdLabel(pd)} "${pd.title}"${previous ? ` (was ${pdLabel(previous)})` : ''}${pd.url ? `: ${pd.url}` : ''}`,
      data: {
        pagerduty: pd.id,
        number: pd.number,
        url: pd.url,
        status: pd.status,
        ...(previous ? { previous: previous.id } : {}),
      },
    });
    return pd;
  }

  /** The PagerDuty line of `/incident status`: the link, how far the notes are, and any failure in plain words. */
  async describe(incident: Incident): Promise<string> {
    const pd = incident.pagerduty;
    const link = pd
      ? pd.url
        ? `<${pd.url}|${pd.number ? `#${pd.number}` : pd.id}>`
        : pdLabel(pd)
      : undefined;
    if (!this.enabled) return link ?? 'not configured (PAGERDUTY_TOKEN is not set)';
    const state = await this.state(incident.id);
    const parts: string[] = [];
    if (link && state.pagerdutyId === pd?.id) {
      const stored = await this.#deps.timeline.readStored(incident.id);
      const at = state.cursor ? stored.findIndex((s) => s.id === state.cursor?.id) : -1;
      const waiting = stored
        .slice(at + 1)
        .filter((s) => s.event && !s.event.kind.startsWith(OWN_PREFIX)).length;
      parts.push(link);
      parts.push(
        `notes: ${state.mirrored} event${state.mirrored === 1 ? '' : 's'} in ${state.notes} note${state.notes === 1 ? '' : 's'}, ${waiting === 0 ? 'up to date' : `${waiting} waiting`}`,
      );
      if (state.resolved) parts.push('resolved in PagerDuty');
    } else if (link) {
      parts.push(`${link} (switching…)`);
    } else if (state.unconfigured) {
      parts.push(`not linked: ${state.unconfigured}; \`/incident link <id>\` attaches one`);
    } else {
      const serviceId = this.#deps.config.services[incident.service]?.pagerduty?.serviceId;
      parts.push(
        state.linkRequested
          ? `linking ${state.linkRequested}…`
          : serviceId
            ? `creating on service ${serviceId}…`
            : `not linked: no pagerduty.serviceId for ${incident.service}; \`/incident link <id>\` attaches one`,
      );
    }
    const f = state.failure;
    if (f) {
      const wait = Date.parse(f.nextAttemptAt) - this.#deps.now().getTime();
      parts.push(
        `:warning: mirror paused since ${utc(f.since)} (${f.attempts} tr${f.attempts === 1 ? 'y' : 'ies'}), next try ${wait > 0 ? `in ${formatDuration(wait)}` : 'now'}: ${f.message}`,
      );
    }
    return parts.join(' · ');
  }

  /**
   * For the breaker: pages through Events API v2 with the service's routing key when no incident is open for
   * the service (an open one gets the trip on its timeline, mirrored as a note, instead).
   */
  async triggerForBreaker(input: {
    service: string;
    summary: string;
    details?: Record<string, unknown>;
  }): Promise<BreakerPage> {
    const { incidents, config, env, store, log } = this.#deps;
    const open = (await incidents.listActive()).find((i) => i.service === input.service);
    if (open)
      return { paged: false, reason: `incident ${open.id} is open for ${input.service}`, incident: open.id };
    const ref = config.services[input.service]?.pagerduty?.routingKey;
    if (!ref) return { paged: false, reason: `no pagerduty.routingKey configured for ${input.service}` };
    if (!this.#deps.events) return { paged: false, reason: 'the PagerDuty Events API is not set up' };
    const routingKey = resolveSecret(ref, `services.${input.service}.pagerduty.routingKey`, env);
    const dedupKey = `cloud-safety/${input.service}/breaker`;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#deps.events.trigger({
          routingKey,
          summary: input.summary,
          source: `cloud-safety/${input.service}`,
          severity: 'critical',
          dedupKey,
          component: input.service,
          class: 'circuit breaker trip',
          ...(input.details ? { customDetails: input.details } : {}),
        });
        await store.set(
          breakerKey(input.service),
          JSON.stringify({ dedupKey: result.dedupKey, at: this.#deps.now().toISOString() }),
          { ttlMs: 60 * 60_000 },
        );
        return { paged: true, dedupKey: result.dedupKey };
      } catch (err) {
        const retryable = err instanceof ExternalServiceError && err.retryable;
        log.warn({ service: input.service, attempt, retryable }, 'breaker page to pagerduty failed');
        if (!retryable || attempt >= this.#opts.triggerAttempts) throw err;
        await sleep(Math.min(this.#opts.retryBaseMs * 2 ** (attempt - 1), this.#opts.retryMaxMs));
      }
    }
  }
}
