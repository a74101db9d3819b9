// PagerDuty in step with the channel: create or link the PagerDuty incident, mirror the timeline as notes, resolve it.
// Runs beside the incident flow, never in its way: a PagerDuty outage pauses the mirror, it never fails a command.
import { Leadership } from '../../src/lease.ts';
import type { PagerDutyIncident } from '../../src/adapters/pagerduty.ts';
import { utc } from '../../src/chat/blocks/kit.ts';
import { PAGERDUTY_RECOVERED } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { TimelineLog } from '../../src/timeline-log.ts';
import { type Actor, type TimelineEvent } from '../../src/timeline.ts';
import { ensureLinked, describeMirror, linkIncident } from './link.ts';
import { fieldsInLine, syncFields } from './fields.ts';
import { flushNotes, recordFailure, resolveIncident, supersede } from './notes.ts';
import { triggerBreakerPage } from './breaker-page.ts';
import {
  DEFAULT_MIRROR_OPTIONS,
  LEASE,
  PENDING,
  channelRequestKey,
  mirrorState,
  recordEvent,
  sleep,
  updateState,
  type BreakerPage,
  type MirrorContext,
  type MirrorDeps,
  type MirrorOptions,
  type MirrorState,
} from './state.ts';

export {
  DEFAULT_MIRROR_OPTIONS,
  incidentKeyFor,
  noteContent,
  parsePagerDutyId,
  urgencyFor,
} from './state.ts';
export type { BreakerPage, MirrorDeps, MirrorFailure, MirrorOptions, MirrorState } from './state.ts';

export class PagerDutyMirror {
  #deps: MirrorDeps;
  #opts: MirrorOptions;
  /** What the linking, notes and breaker-page files need of the mirror. */
  #ctx: MirrorContext;
  /** Only the replica holding this mirrors, so PagerDuty never gets a note twice. */
  #leadership: Leadership;
  #running = new Set<string>();
  #again = new Set<string>();
  #batching = new Set<string>();
  #nextCallAt = 0;

  constructor(deps: MirrorDeps) {
    this.#deps = deps;
    this.#opts = { ...DEFAULT_MIRROR_OPTIONS, ...deps.options };
    this.#ctx = { deps, opts: this.#opts, pace: () => this.#pace() };
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
    return mirrorState(this.#ctx, incidentId);
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
    // A timer, not running work: the console's prompt does not wait for the window (bot.settled), shutdown does.
    this.#deps.tasks.after(`pagerduty:batch:${incidentId}`, this.#opts.batchWindowMs, async () => {
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
      (state.superseded ?? []).length === 0 &&
      (incident === null || fieldsInLine(incident, state));
    if (incident.pagerduty && state.pagerdutyId === incident.pagerduty.id && caughtUp() && !state.failure) {
      await this.#settle(incidentId, head);
      return;
    }
    let during = 'link';
    try {
      if (!incident.pagerduty || state.pagerdutyId !== incident.pagerduty.id) {
        incident = await ensureLinked(this.#ctx, incident, state);
        state = await this.state(incidentId);
      }
      const pd = incident.pagerduty;
      if (!pd || state.pagerdutyId !== pd.id) {
        await this.#settle(incidentId, head, true);
        return;
      }
      during = 'supersede';
      for (const old of state.superseded ?? []) await supersede(this.#ctx, incident, old, pd);
      during = 'note';
      const flushed = await flushNotes(this.#ctx, incident, pd.id);
      state = flushed.state;
      during = 'update';
      await syncFields(this.#ctx, incident, pd.id, state);
      // Incidents.resolve records its event before it flips the status: either one means resolved.
      if ((incident.status === 'resolved' || flushed.resolution !== undefined) && !state.resolved) {
        during = 'resolve';
        await resolveIncident(this.#ctx, incident, pd.id, incident.resolution ?? flushed.resolution);
      }
      const before = state.failure;
      state = await updateState(this.#ctx, incidentId, (current) => {
        const { failure: _failure, ...rest } = current;
        return { ...rest, lastSyncAt: this.#deps.now().toISOString() };
      });
      if (before) {
        await recordEvent(this.#ctx, incident, {
          kind: PAGERDUTY_RECOVERED,
          summary: `PagerDuty mirror caught up after ${before.attempts} failed tr${before.attempts === 1 ? 'y' : 'ies'} since ${utc(before.since)}`,
          data: { pagerduty: pd.id, attempts: before.attempts, since: before.since },
        });
      }
      await this.#settle(incidentId, await store.get(TimelineLog.headKey(incidentId)));
    } catch (err) {
      await recordFailure(this.#ctx, incident, err, during);
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

  /** Declare with `pagerduty=<id>`: asked before the incident exists, so the first pass links instead of creating. */
  async requestLinkForChannel(channel: string, pagerdutyId: string): Promise<void> {
    await this.#deps.store.set(channelRequestKey(channel), pagerdutyId, { ttlMs: 10 * 60_000 });
  }

  async cancelChannelRequest(channel: string): Promise<void> {
    await this.#deps.store.del(channelRequestKey(channel));
  }

  /** Moves a channel's request onto the declared incident and starts the mirror at once. */
  async requestLink(incident: Incident, pagerdutyId: string): Promise<void> {
    await updateState(this.#ctx, incident.id, (current) =>
      current.pagerdutyId ? undefined : { ...current, linkRequested: pagerdutyId },
    );
    await this.#deps.store.del(channelRequestKey(incident.channel));
  }

  /**
   * `/incident link <id>`: reads the PagerDuty incident (the person is waiting for the answer), links it,
   * and copies the whole timeline there. A duplicate the bot had created is noted and resolved.
   */
  link(incident: Incident, pagerdutyId: string, actor: Actor): Promise<PagerDutyIncident> {
    return linkIncident(this.#ctx, incident, pagerdutyId, actor);
  }

  /** The PagerDuty line of `/incident status`: the link, how far the notes are, and any failure in plain words. */
  describe(incident: Incident): Promise<string> {
    return describeMirror(this.#ctx, incident);
  }

  /**
   * For the breaker: pages through Events API v2 with the service's routing key when no incident is open for
   * the service (an open one gets the trip on its timeline, mirrored as a note, instead).
   */
  triggerForBreaker(input: {
    service: string;
    summary: string;
    details?: Record<string, unknown>;
  }): Promise<BreakerPage> {
    return triggerBreakerPage(this.#ctx, input);
  }
}
