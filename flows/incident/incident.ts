// Incident lifecycle: declare in a channel, record what happens on the timeline, keep the pinned headline current.
import type { Chat } from '../../src/chat/chat.ts';
import type { Config } from '../../src/config.ts';
import type { Scheduler } from '../../src/scheduler.ts';
import { Lifecycle } from './lifecycle.ts';
import {
  anchorKey,
  anchorRecord,
  anchorText,
  parseAnchor,
  parseAnchorRecord,
  type Anchor,
} from '../../src/anchors.ts';
import type { EvidenceStore } from '../../src/adapters/evidence/store.ts';
import { Home } from './home.ts';
import { declaredLink, headlineMessage } from './blocks.ts';
import { UsageError } from '../../src/errors.ts';
import type { Incident, Severity } from '../../src/incident.ts';
import type { Logger } from '../../src/log.ts';
import { markStep, newChecklist, type StepState } from '../../src/runbook.ts';
import { getJson, type Store } from '../../src/store/store.ts';
import type { Throttle } from '../../src/tasks.ts';
import type { TimelineLog } from '../../src/timeline-log.ts';
import type { Actor, NewEvent, Step, TimelineEvent } from '../../src/timeline.ts';
import { updateSeen } from '../../src/update-seen.ts';

export interface IncidentDeps {
  store: Store;
  chat: Chat;
  timeline: TimelineLog;
  throttle: Throttle;
  log: Logger;
  now: () => Date;
  scheduler: Scheduler;
  config: Config;
  /** Where the chain's head is also anchored (the evidence directory or bucket), outside Redis. */
  evidence?: EvidenceStore | undefined;
  /** Whether someone may still see incidents (the App Home drops those who left the responders). */
  isResponder?: (user: string) => Promise<boolean>;
}

export interface RecordInput {
  step: Step | null;
  kind: string;
  actor: Actor;
  summary: string;
  data?: Record<string, unknown>;
  /** Moves the checklist step to this state as part of recording. */
  stepState?: StepState;
}

const incidentKey = (id: string) => `incident:${id}`;
const channelKey = (channel: string) => `channel:${channel}:incident`;
const ACTIVE = 'incidents:active';
const ALL = 'incidents:all';

export class Incidents {
  #deps: IncidentDeps;
  /**
   * Per incident, its stored text as this process last wrote it: record() tries it as the compare-and-set's
   * expected value, so recording an event reads nothing before writing (a stale copy only costs the usual read).
   */
  #written = new Map<string, string>();
  /** One publish at a time per incident, so a refresh racing the first post cannot post a second headline. */
  #publishing = new Map<string, Promise<void>>();

  /** Roles, severity, status updates and their reminders. */
  readonly lifecycle: Lifecycle;
  /** The App Home tab with the open incidents. */
  readonly home: Home;

  constructor(deps: IncidentDeps) {
    this.#deps = deps;
    this.lifecycle = new Lifecycle(this, {
      chat: deps.chat,
      scheduler: deps.scheduler,
      settings: deps.config.incident,
      announceChannel: (service) => deps.config.services[service]?.announce,
      log: deps.log,
      now: deps.now,
    });
    this.home = new Home({ ...deps, open: () => this.listActive() });
  }

  async get(id: string): Promise<Incident | null> {
    return getJson<Incident>(this.#deps.store, incidentKey(id));
  }

  /** The active incident of a channel, if any. */
  async active(channel: string): Promise<Incident | null> {
    const id = await this.#deps.store.get(channelKey(channel));
    if (!id) return null;
    const incident = await this.get(id);
    return incident?.status === 'active' ? incident : null;
  }

  async listActive(): Promise<Incident[]> {
    const ids = await this.#deps.store.members(ACTIVE);
    const incidents = await Promise.all(ids.map((id) => this.get(id)));
    return incidents.filter((i): i is Incident => i !== null && i.status === 'active');
  }

  async listAll(): Promise<string[]> {
    return this.#deps.store.members(ALL);
  }

  /** The latest incident of a channel, active or resolved (for /timeline and /postmortem after resolve). */
  async latest(channel: string): Promise<Incident | null> {
    const id = await this.#deps.store.get(`${channelKey(channel)}:latest`);
    return id ? this.get(id) : null;
  }

  async declare(input: {
    service: string;
    title: string;
    severity: Severity;
    /** Where it was declared; the incident lives here unless `ownChannel` is set. */
    channel: string;
    actor: Actor;
    /** Commander other than the declarer (the declare modal asks). */
    commander?: Actor;
    /** Create the incident's own channel and invite these people (the declarer and commander are added). */
    ownChannel?: { private: boolean; invite: string[] };
    /** Called with the incident's channel before the declare is recorded (the PagerDuty link request). */
    onChannel?: (channel: string) => Promise<void>;
  }) {
    const { store, now } = this.#deps;
    if (!input.ownChannel) {
      const existing = await this.active(input.channel);
      if (existing) {
        throw new UsageError(
          `This channel already has an active incident, ${existing.id} (${existing.service}). Resolve it with \`/incident resolve\` or declare in another channel.`,
        );
      }
    }
    const n = await store.incr('seq:incident');
    const id = `INC-${n}`;
    const commander = input.commander ?? input.actor;
    const channel = input.ownChannel
      ? await this.#createChannel(n, input.service, input.ownChannel.private, [
          input.actor.id,
          commander.id,
          ...input.ownChannel.invite,
        ])
      : input.channel;
    // One active incident per channel, even when two people declare at the same moment.
    const previous = await store.get(channelKey(channel));
    if (!(await store.compareAndSet(channelKey(channel), previous, id))) {
      const winner = await this.active(channel);
      throw new UsageError(
        `${winner?.id ?? 'Another incident'} was declared in this channel a moment ago; use it.`,
      );
    }
    await input.onChannel?.(channel);
    const declaredAt = now().toISOString();
    const incident: Incident = {
      id,
      service: input.service,
      title: input.title,
      severity: input.severity,
      channel,
      commander,
      status: 'active',
      declaredAt,
      checklist: newChecklist(),
      ...(channel !== input.channel ? { declaredIn: input.channel } : {}),
    };
    await store.set(incidentKey(id), JSON.stringify(incident));
    await store.set(`${channelKey(channel)}:latest`, id);
    await store.addToSet(ACTIVE, id);
    await store.addToSet(ALL, id);
    await this.record(id, {
      step: null,
      kind: 'incident.declared',
      actor: input.actor,
      summary: `${input.actor.name} declared ${id} on ${input.service} (${input.severity}): ${input.title}`,
      data: {
        service: input.service,
        title: input.title,
        severity: input.severity,
        channel,
        ...(channel !== input.channel ? { declaredIn: input.channel } : {}),
        ...(commander.id !== input.actor.id ? { commander: { id: commander.id, name: commander.name } } : {}),
      },
    });
    await this.publishHeadline(id);
    await this.lifecycle.scheduleUpdateReminder(incident);
    await this.#announce(incident);
    return (await this.get(id)) ?? incident;
  }

  /** `<prefix>-<n>-<service>`, with -2, -3… when Slack says the name is taken (an archived channel keeps its name). */
  async #createChannel(n: number, service: string, isPrivate: boolean, invite: string[]): Promise<string> {
    const { chat, config, log } = this.#deps;
    const base = `${config.incident.channels.prefix}-${n}-${service}`.slice(0, 76);
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const created = await chat.createChannel(attempt === 1 ? base : `${base}-${attempt}`, {
        private: isPrivate,
      });
      if (created === 'name_taken') continue;
      try {
        await chat.invite(created.id, [...new Set(invite)]);
      } catch (err) {
        // The channel and the incident matter more than the invitations; people can join by the link.
        log.warn({ err, channel: created.id }, 'could not invite responders to the incident channel');
      }
      return created.id;
    }
    throw new UsageError(
      `Channels ${base} to ${base}-5 all exist already. Rename or archive the old ones, change incident.channels.prefix, or declare here with channel=here.`,
    );
  }

  /** A one-line link where it was declared and where stakeholders follow the service. */
  async #announce(incident: Incident): Promise<void> {
    const { chat, config, log } = this.#deps;
    const targets = new Set<string>();
    if (incident.declaredIn) targets.add(incident.declaredIn);
    const announce = config.services[incident.service]?.announce;
    if (announce) targets.add(announce);
    targets.delete(incident.channel);
    for (const target of targets) {
      try {
        await chat.post(target, declaredLink(incident));
      } catch (err) {
        log.warn({ err, incident: incident.id, channel: target }, 'could not post the incident link');
      }
    }
  }

  async resolve(incident: Incident, actor: Actor, summary: string): Promise<Incident> {
    const { store, now } = this.#deps;
    const resolvedAt = now().toISOString();
    await this.record(incident.id, {
      step: null,
      kind: 'incident.resolved',
      actor,
      summary: `${actor.name} resolved ${incident.id}${summary ? `: ${summary}` : ''}`,
      data: { summary },
    });
    const updated = await this.update(incident.id, (current) => ({
      ...current,
      status: 'resolved',
      resolvedAt,
      ...(summary ? { resolution: summary } : {}),
    }));
    await store.compareAndSet(channelKey(incident.channel), incident.id, null);
    await store.removeFromSet(ACTIVE, incident.id);
    await this.lifecycle.resolved(updated);
    this.refreshHeadline(incident.id);
    return updated;
  }

  async update(id: string, change: (current: Incident) => Incident): Promise<Incident> {
    return this.#update(id, undefined, change);
  }

  /** `seen`: the incident's stored text as just read, tried first as the compare-and-set's expected value. */
  async #update(
    id: string,
    seen: string | null | undefined,
    change: (current: Incident) => Incident,
  ): Promise<Incident> {
    const next = await updateSeen<Incident>(this.#deps.store, incidentKey(id), seen, (current) => {
      if (!current) throw new Error(`incident ${id} does not exist`);
      return change(current);
    });
    if (!next) throw new Error(`incident ${id} vanished`);
    this.#written.set(id, JSON.stringify(next));
    return next;
  }

  /** Appends to the timeline first, then updates the checklist and schedules a headline edit. */
  async record(incidentId: string, input: RecordInput): Promise<TimelineEvent> {
    const event: NewEvent = {
      incident: incidentId,
      step: input.step,
      kind: input.kind,
      actor: input.actor,
      summary: input.summary,
      ...(input.data ? { data: input.data } : {}),
    };
    // The copy last written here, or one read beside the append (one round trip for both); updateSeen re-reads
    // when the incident moved meanwhile.
    const written = this.#written.get(incidentId);
    const seen =
      written !== undefined ? Promise.resolve(written) : this.#deps.store.get(incidentKey(incidentId));
    seen.catch(() => undefined); // awaited below only once the append succeeded
    const stored = await this.#deps.timeline.append(event);
    await this.#update(incidentId, await seen, (current) => {
      const last = { summary: stored.summary, at: stored.at };
      const checklist = input.step
        ? markStep(current.checklist, input.step, {
            ...(input.stepState ? { state: input.stepState } : {}),
            ...last,
          })
        : current.checklist;
      return { ...current, checklist, lastEvent: last };
    });
    this.refreshHeadline(incidentId);
    return stored;
  }

  /** The chain heads recorded outside Redis for this incident: the pinned headline, and the evidence store's record. */
  async anchors(incident: Incident): Promise<Anchor[]> {
    const found: Anchor[] = [];
    if (incident.headline) {
      try {
        const message = await this.#deps.chat.fetchMessage(incident.headline);
        const anchor = message ? parseAnchor(message.text, 'the pinned headline') : null;
        if (anchor) found.push(anchor);
      } catch (err) {
        this.#deps.log.warn({ err, incident: incident.id }, 'could not read the headline anchor');
      }
    }
    const evidence = this.#deps.evidence;
    if (evidence) {
      const where = `the anchor in the evidence store (${evidence.location}${anchorKey(incident)})`;
      const text = await evidence.getRecord(anchorKey(incident)).catch((err: unknown) => {
        this.#deps.log.warn({ err, incident: incident.id }, 'could not read the evidence-store anchor');
        return undefined;
      });
      if (text !== undefined) {
        try {
          found.push(parseAnchorRecord(text, where));
        } catch (err) {
          this.#deps.log.warn({ err, incident: incident.id }, 'the evidence-store anchor is unreadable');
        }
      }
    }
    return found;
  }

  /** Writes the chain's head to the evidence store; a failure is logged, never in the way of the headline. */
  async #anchorInEvidence(incident: Incident, chain: { count: number; head: string | null }): Promise<void> {
    const evidence = this.#deps.evidence;
    if (!evidence) return;
    try {
      await evidence.putRecord(anchorKey(incident), anchorRecord(chain, this.#deps.now()));
    } catch (err) {
      this.#deps.log.warn(
        { err, incident: incident.id },
        'could not anchor the timeline in the evidence store',
      );
    }
  }

  /** Edits the pinned headline (coalesced to about one edit a second); posts it if it never made it to chat. */
  refreshHeadline(incidentId: string): void {
    this.#deps.throttle.schedule(`headline:${incidentId}`, () => this.publishHeadline(incidentId));
    this.home.refresh();
  }

  publishHeadline(incidentId: string): Promise<void> {
    const previous = this.#publishing.get(incidentId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.#publish(incidentId));
    this.#publishing.set(incidentId, next);
    next
      .finally(() => {
        if (this.#publishing.get(incidentId) === next) this.#publishing.delete(incidentId);
      })
      .catch(() => {}); // the caller of publishHeadline gets the failure

    return next;
  }

  async #publish(incidentId: string): Promise<void> {
    const { chat, log } = this.#deps;
    const incident = await this.get(incidentId);
    if (!incident) return;
    // The pinned headline anchors the chain outside Redis: every edit carries the current count and head; the
    // evidence store keeps the whole head too.
    const chain = await this.#deps.timeline.chainHead(incidentId);
    await this.#anchorInEvidence(incident, chain);
    const message = headlineMessage(incident, { anchor: anchorText(chain) });
    try {
      if (incident.headline) {
        await chat.update(incident.headline, message);
        return;
      }
      const ref = await chat.post(incident.channel, message);
      await this.update(incidentId, (current) => ({ ...current, headline: ref }));
      try {
        await chat.pin(ref);
      } catch (err) {
        log.warn({ err, incident: incidentId }, 'could not pin the headline');
      }
    } catch (err) {
      // The next change retries; the incident itself is already safe in the store and on the timeline.
      log.warn({ err, incident: incidentId }, 'could not publish the headline');
    }
  }
}
