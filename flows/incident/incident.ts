// Incident lifecycle: declare in a channel, record what happens on the timeline, keep the pinned headline current.
import type { Chat } from '../../src/chat/chat.ts';
import type { Config } from '../../src/config.ts';
import type { Scheduler } from '../../src/scheduler.ts';
import { Lifecycle } from './lifecycle.ts';
import { headlineMessage } from './blocks.ts';
import { anchorText, parseAnchor, type Anchor } from '../../src/anchors.ts';
import { UsageError } from '../../src/errors.ts';
import type { Incident, Severity } from '../../src/incident.ts';
import type { Logger } from '../../src/log.ts';
import { markStep, newChecklist, type StepState } from '../../src/runbook.ts';
import { getJson, updateJson, type Store } from '../../src/store/store.ts';
import type { Throttle } from '../../src/tasks.ts';
import type { TimelineLog } from '../../src/timeline-log.ts';
import type { Actor, NewEvent, Step, TimelineEvent } from '../../src/timeline.ts';

export interface IncidentDeps {
  store: Store;
  chat: Chat;
  timeline: TimelineLog;
  throttle: Throttle;
  log: Logger;
  now: () => Date;
  scheduler: Scheduler;
  config: Config;
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
  /** One publish at a time per incident, so a refresh racing the first post cannot post a second headline. */
  #publishing = new Map<string, Promise<void>>();

  /** Roles, severity, status updates and their reminders. */
  readonly lifecycle: Lifecycle;

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
    channel: string;
    actor: Actor;
  }) {
    const { store, now } = this.#deps;
    const existing = await this.active(input.channel);
    if (existing) {
      throw new UsageError(
        `This channel already has an active incident, ${existing.id} (${existing.service}). Resolve it with \`/incident resolve\` or declare in another channel.`,
      );
    }
    const id = `INC-${await store.incr('seq:incident')}`;
    // One active incident per channel, even when two people declare at the same moment.
    const previous = await store.get(channelKey(input.channel));
    if (!(await store.compareAndSet(channelKey(input.channel), previous, id))) {
      const winner = await this.active(input.channel);
      throw new UsageError(
        `${winner?.id ?? 'Another incident'} was declared in this channel a moment ago; use it.`,
      );
    }
    const declaredAt = now().toISOString();
    const incident: Incident = {
      id,
      service: input.service,
      title: input.title,
      severity: input.severity,
      channel: input.channel,
      commander: input.actor,
      status: 'active',
      declaredAt,
      checklist: newChecklist(),
    };
    await store.set(incidentKey(id), JSON.stringify(incident));
    await store.set(`${channelKey(input.channel)}:latest`, id);
    await store.addToSet(ACTIVE, id);
    await store.addToSet(ALL, id);
    await this.record(id, {
      step: null,
      kind: 'incident.declared',
      actor: input.actor,
      summary: `${input.actor.name} declared ${id} on ${input.service} (${input.severity}): ${input.title}`,
      data: { service: input.service, title: input.title, severity: input.severity, channel: input.channel },
    });
    await this.publishHeadline(id);
    await this.lifecycle.scheduleUpdateReminder(incident);
    return (await this.get(id)) ?? incident;
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
    const next = await updateJson<Incident>(this.#deps.store, incidentKey(id), (current) => {
      if (!current) throw new Error(`incident ${id} does not exist`);
      return change(current);
    });
    if (!next) throw new Error(`incident ${id} vanished`);
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
    const stored = await this.#deps.timeline.append(event);
    await this.update(incidentId, (current) => {
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

  /** The chain heads recorded outside Redis for this incident: today the pinned headline, as Slack holds it. */
  async anchors(incident: Incident): Promise<Anchor[]> {
    if (!incident.headline) return [];
    try {
      const message = await this.#deps.chat.fetchMessage(incident.headline);
      const anchor = message ? parseAnchor(message.text, 'the pinned headline') : null;
      return anchor ? [anchor] : [];
    } catch (err) {
      this.#deps.log.warn({ err, incident: incident.id }, 'could not read the headline anchor');
      return [];
    }
  }

  /** Edits the pinned headline (coalesced to about one edit a second); posts it if it never made it to chat. */
  refreshHeadline(incidentId: string): void {
    this.#deps.throttle.schedule(`headline:${incidentId}`, () => this.publishHeadline(incidentId));
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
    // The pinned headline anchors the chain outside Redis: every edit carries the current count and head.
    const message = headlineMessage(incident, {
      anchor: anchorText(await this.#deps.timeline.chainHead(incidentId)),
    });
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
