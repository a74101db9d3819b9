// Roles, severity and status updates of a running incident, and the durable reminders that keep updates coming.
import { mention } from '../../src/chat/blocks/kit.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import type { Chat } from '../../src/chat/chat.ts';
import type { IncidentSettings } from '../../src/config.ts';
import { formatDuration } from '../../src/duration.ts';
import {
  INCIDENT_POSTMORTEM_REMINDER,
  INCIDENT_ROLE_ASSIGNED,
  INCIDENT_SEVERITY_CHANGED,
  INCIDENT_STATUS_UPDATE,
  INCIDENT_UPDATE_REMINDER,
} from '../../src/events.ts';
import { roleHolder, severityLevel, type Incident, type Severity } from '../../src/incident.ts';
import type { Logger } from '../../src/log.ts';
import type { Scheduler } from '../../src/scheduler.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';
import type { Incidents } from './incident.ts';
import { updateMessage } from './blocks.ts';

export const UPDATE_QUEUE = 'incident-update';
export const POSTMORTEM_QUEUE = 'incident-postmortem';

/** Severities at or above this level (SEV1, SEV2) are reminded to post updates. */
const REMINDED_UP_TO = 2;

export interface LifecycleDeps {
  chat: Chat;
  scheduler: Scheduler;
  settings: IncidentSettings;
  /** Stakeholder channel of a service (services.<name>.announce), if any. */
  announceChannel: (service: string) => string | undefined;
  log: Logger;
  now: () => Date;
}

function sameActor(a: Actor | undefined, b: Actor): boolean {
  return a?.id === b.id;
}

export class Lifecycle {
  #deps: LifecycleDeps & { incidents: Incidents };

  constructor(incidents: Incidents, deps: LifecycleDeps) {
    this.#deps = { ...deps, incidents };
    // Handlers are registered before the scheduler starts, so a restarted replica keeps reminding.
    deps.scheduler.handle(UPDATE_QUEUE, (id) => this.#remindUpdate(id));
    deps.scheduler.handle(POSTMORTEM_QUEUE, (id) => this.#remindPostmortem(id));
  }

  get settings(): IncidentSettings {
    return this.#deps.settings;
  }

  /** Gives `role` to `person`; for commander this is the handover. Returns who held it before. */
  async assignRole(
    incident: Incident,
    role: string,
    person: Actor,
    actor: Actor,
  ): Promise<{ incident: Incident; previous: Actor | undefined }> {
    const previous = roleHolder(incident, role);
    const handover = role === 'commander';
    const summary = handover
      ? `${actor.name} handed commander of ${incident.id} from ${previous?.name ?? 'nobody'} to ${person.name}`
      : previous
        ? `${actor.name} made ${person.name} ${role} of ${incident.id} (was ${previous.name})`
        : `${actor.name} made ${person.name} ${role} of ${incident.id}`;
    await this.#deps.incidents.record(incident.id, {
      step: null,
      kind: INCIDENT_ROLE_ASSIGNED,
      actor,
      summary,
      data: {
        role,
        user: { id: person.id, name: person.name },
        ...(previous ? { previous: { id: previous.id, name: previous.name } } : {}),
      },
    });
    const updated = await this.#deps.incidents.update(incident.id, (current) =>
      handover
        ? { ...current, commander: person }
        : { ...current, roles: { ...current.roles, [role]: person } },
    );
    this.#deps.incidents.refreshHeadline(incident.id);
    return { incident: updated, previous };
  }

  async changeSeverity(
    incident: Incident,
    severity: Severity,
    reason: string,
    actor: Actor,
  ): Promise<Incident> {
    const from = incident.severity;
    await this.#deps.incidents.record(incident.id, {
      step: null,
      kind: INCIDENT_SEVERITY_CHANGED,
      actor,
      summary: `${actor.name} changed ${incident.id} from ${from} to ${severity}: ${reason}`,
      data: { from, to: severity, reason },
    });
    const updated = await this.#deps.incidents.update(incident.id, (current) => ({ ...current, severity }));
    await this.scheduleUpdateReminder(updated);
    return updated;
  }

  /** Posts a status update in the incident channel and to stakeholders, and records it. */
  async postUpdate(
    incident: Incident,
    text: string,
    actor: Actor,
  ): Promise<{ incident: Incident; stakeholders: string | undefined; first: boolean }> {
    const { chat, now, log } = this.#deps;
    const at = now().toISOString();
    const first = !incident.lastUpdateAt;
    const stakeholders = this.#deps.announceChannel(incident.service);
    await this.#deps.incidents.record(incident.id, {
      step: null,
      kind: INCIDENT_STATUS_UPDATE,
      actor,
      summary: `${actor.name} posted an update on ${incident.id}: ${text}`,
      data: {
        text,
        severity: incident.severity,
        ...(stakeholders ? { stakeholders } : {}),
        sinceDeclaredMs: Date.parse(at) - Date.parse(incident.declaredAt),
      },
    });
    const updated = await this.#deps.incidents.update(incident.id, (current) => ({
      ...current,
      lastUpdateAt: at,
    }));
    const message = updateMessage(updated, text, actor, at);
    await chat.post(updated.channel, message);
    if (stakeholders && stakeholders !== updated.channel) {
      try {
        await chat.post(stakeholders, message);
      } catch (err) {
        // Recorded already; the responders see the update in the incident channel either way.
        log.warn(
          { err, incident: incident.id, channel: stakeholders },
          'could not post the stakeholder update',
        );
      }
    }
    await this.scheduleUpdateReminder(updated);
    return { incident: updated, stakeholders, first };
  }

  /** (Re)arms the update reminder: due `updateEvery` after the last update (or the declare). */
  async scheduleUpdateReminder(incident: Incident): Promise<void> {
    const { scheduler, settings } = this.#deps;
    if (incident.status !== 'active' || severityLevel(incident.severity) > REMINDED_UP_TO) {
      await scheduler.cancel(UPDATE_QUEUE, incident.id);
      return;
    }
    const since = Date.parse(incident.lastUpdateAt ?? incident.declaredAt);
    await scheduler.at(UPDATE_QUEUE, incident.id, since + settings.updateEvery);
  }

  /** On resolve: no more update reminders, one reminder to draft the post-mortem. */
  async resolved(incident: Incident): Promise<void> {
    const { scheduler, settings, now } = this.#deps;
    await scheduler.cancel(UPDATE_QUEUE, incident.id);
    await scheduler.at(POSTMORTEM_QUEUE, incident.id, now().getTime() + settings.postmortemAfter);
  }

  #people(incident: Incident): Actor[] {
    const people = [incident.commander];
    const comms = roleHolder(incident, this.#deps.settings.commsRole);
    if (comms && !people.some((p) => sameActor(p, comms))) people.push(comms);
    return people;
  }

  async #remindUpdate(id: string): Promise<void> {
    const { settings, now, chat } = this.#deps;
    const incident = await this.#deps.incidents.get(id);
    if (!incident || incident.status !== 'active' || severityLevel(incident.severity) > REMINDED_UP_TO)
      return;
    const since = Date.parse(incident.lastUpdateAt ?? incident.declaredAt);
    const quiet = now().getTime() - since;
    if (quiet < settings.updateEvery) {
      // An update landed after this reminder was armed; wait for the next due time instead.
      await this.scheduleUpdateReminder(incident);
      return;
    }
    const people = this.#people(incident);
    const what = incident.lastUpdateAt ? 'no status update' : 'no status update yet';
    await this.#deps.incidents.record(id, {
      step: null,
      kind: INCIDENT_UPDATE_REMINDER,
      actor: SYSTEM,
      summary: `Reminded ${people.map((p) => p.name).join(' and ')}: ${id} (${incident.severity}) has had ${what} for ${formatDuration(quiet)}`,
      data: { people: people.map((p) => p.id), quietMs: quiet },
    });
    await chat.post(
      incident.channel,
      notice(
        `${people.map((p) => mention(p.id)).join(' ')} *${id}* (${incident.severity}) has had ${what} for ${formatDuration(quiet)}. Tell stakeholders where things stand: \`/incident update <what we know, what we are doing, next update in …>\`.`,
      ),
    );
    // Keep reminding every `updateEvery` until someone posts.
    await this.#deps.scheduler.at(UPDATE_QUEUE, id, now().getTime() + settings.updateEvery);
  }

  async #remindPostmortem(id: string): Promise<void> {
    const incident = await this.#deps.incidents.get(id);
    if (!incident || incident.status !== 'resolved') return;
    await this.#deps.incidents.record(id, {
      step: null,
      kind: INCIDENT_POSTMORTEM_REMINDER,
      actor: SYSTEM,
      summary: `Reminded ${incident.commander.name} to draft the post-mortem of ${id}`,
      data: { user: incident.commander.id },
    });
    await this.#deps.chat.post(
      incident.channel,
      notice(
        `${mention(incident.commander.id)} *${id}* was resolved ${formatDuration(this.#deps.now().getTime() - Date.parse(incident.resolvedAt ?? incident.declaredAt))} ago. Draft the post-mortem while memories are fresh: \`/postmortem\` builds it from the timeline.`,
      ),
    );
  }
}
