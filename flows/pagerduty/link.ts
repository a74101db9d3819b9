// PagerDuty mirror, linking: finds or creates the PagerDuty incident, `/incident link`, and the status line.
import type { PagerDutyIncident } from '../../src/adapters/pagerduty.ts';
import { PagerDutyError } from '../../src/adapters/pagerduty.ts';
import { utc } from '../../src/chat/blocks/kit.ts';
import { formatDuration } from '../../src/duration.ts';
import { UsageError } from '../../src/errors.ts';
import { PAGERDUTY_CREATED, PAGERDUTY_LINKED } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { getJson } from '../../src/store/store.ts';
import { type Actor } from '../../src/timeline.ts';
import type { BreakerTrigger, MirrorState } from './state.ts';
import type { MirrorContext } from './state.ts';
import {
  OWN_PREFIX,
  breakerKey,
  channelRequestKey,
  incidentKeyFor,
  mirrorState,
  pdLabel,
  recordEvent,
  updateState,
  urgencyFor,
} from './state.ts';

/** Links the incident asked for, or finds the one created before a crash, or creates one. */
export async function ensureLinked(
  c: MirrorContext,
  incident: Incident,
  state: MirrorState,
): Promise<Incident> {
  const { store, config } = c.deps;
  const rest = c.deps.rest;
  if (!rest) return incident;
  const channelRequest = await store.get(channelRequestKey(incident.channel));
  // requestLink() moves the request from the channel onto the incident's state, state first: when the channel's is
  // gone, re-read the state, or a pass that read the state before the move and the channel after it pages anew.
  const linkRequested = channelRequest
    ? state.linkRequested
    : (await mirrorState(c, incident.id)).linkRequested;
  const requested = linkRequested ?? state.linkRequested ?? channelRequest ?? undefined;
  if (requested) {
    await c.pace();
    const pd = await rest.getIncident(requested);
    const linked = await linkTo(c, incident, pd, 'linked');
    await store.del(channelRequestKey(incident.channel));
    await recordEvent(c, linked, {
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
      await c.pace();
      earlier = (await rest.findByIncidentKey(incidentKeyFor(incident)))[0];
    }
    if (earlier) {
      const linked = await linkTo(c, incident, earlier, 'created');
      await recordEvent(c, linked, {
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
    await updateState(c, incident.id, (current) => ({
      ...current,
      unconfigured: 'resolved before a PagerDuty incident could be created, so nobody was paged',
    }));
    return incident;
  }
  const serviceId = config.services[incident.service]?.pagerduty?.serviceId;
  if (!serviceId) {
    await updateState(c, incident.id, (current) => ({
      ...current,
      unconfigured: `no pagerduty.serviceId for ${incident.service}`,
    }));
    return incident;
  }
  const key = incidentKeyFor(incident);
  let found: PagerDutyIncident | undefined;
  let origin: MirrorState['origin'] = 'created';
  if (state.createAttempted) {
    await c.pace();
    found = (await rest.findByIncidentKey(key))[0];
  }
  let missedPage: BreakerTrigger | undefined;
  if (!found) {
    // A breaker trip may have paged through the Events API moments before this incident was declared. That API is
    // asynchronous: the page's incident may not exist yet, so it is looked for again on every pass for a while.
    const trigger = await getJson<BreakerTrigger>(store, breakerKey(incident.service));
    if (trigger) {
      await c.pace();
      found = (await rest.findByIncidentKey(trigger.dedupKey)).find((i) => i.status !== 'resolved');
      if (found) origin = 'breaker';
      else if (await awaitPage(c, incident, trigger)) return incident;
      else missedPage = trigger;
    }
  }
  if (!found) {
    await updateState(c, incident.id, (current) => ({ ...current, createAttempted: true }));
    await c.pace();
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
      // PagerDuty's 400 (code 2002) "Open incident with matching dedup key already exists": the earlier create went
      // through after all. That incident is the one; if the list does not show it yet, the next pass looks again.
      if (!(err instanceof PagerDutyError && err.duplicateKey)) throw err;
      await c.pace();
      found = (await rest.findByIncidentKey(key)).find((i) => i.status !== 'resolved');
      if (!found) {
        throw new PagerDutyError(
          `PagerDuty says an open incident with key ${key} exists but does not list it yet; the bot looks it up again instead of creating another.`,
          { status: 400, retryable: true },
        );
      }
    }
  }
  const linked = await linkTo(c, incident, found, origin);
  await recordEvent(c, linked, {
    kind: origin === 'breaker' ? PAGERDUTY_LINKED : PAGERDUTY_CREATED,
    summary:
      origin === 'breaker'
        ? `Linked to PagerDuty ${pdLabel(found)}, opened by the breaker's page${found.url ? `: ${found.url}` : ''}`
        : `PagerDuty incident ${pdLabel(found)} ${state.createAttempted ? 'found' : 'created'} on service ${serviceId} (${found.urgency ?? 'default'} urgency)${found.url ? `: ${found.url}` : ''}${missedPage ? `; the breaker's page (dedup key ${missedPage.dedupKey}) had not become an incident ${Math.round(c.opts.pageIngestionMs / 1000)} s after it was sent` : ''}`,
    data: {
      pagerduty: found.id,
      number: found.number,
      url: found.url,
      serviceId,
      incidentKey: key,
      ...(missedPage ? { breakerDedupKey: missedPage.dedupKey } : {}),
    },
  });
  return linked;
}

/**
 * The breaker's page is not an incident yet: within pageIngestionMs of it, note that the mirror is waiting and tell
 * the caller to create nothing (the next pass looks again). True while waiting; false once the wait is over.
 */
async function awaitPage(c: MirrorContext, incident: Incident, trigger: BreakerTrigger): Promise<boolean> {
  const now = c.deps.now().getTime();
  const until = Date.parse(trigger.at) + c.opts.pageIngestionMs;
  if (!(now < until)) return false;
  const state = await updateState(c, incident.id, (current) => ({
    ...current,
    awaitingPage: {
      dedupKey: trigger.dedupKey,
      since: current.awaitingPage?.since ?? new Date(now).toISOString(),
      until: new Date(until).toISOString(),
      lookups: (current.awaitingPage?.lookups ?? 0) + 1,
    },
  }));
  c.deps.log.info(
    { incident: incident.id, dedupKey: trigger.dedupKey, lookups: state.awaitingPage?.lookups },
    'breaker page not an incident yet; waiting before creating one',
  );
  return true;
}

export async function linkTo(
  c: MirrorContext,
  incident: Incident,
  pd: PagerDutyIncident,
  origin: NonNullable<MirrorState['origin']>,
): Promise<Incident> {
  const link = {
    id: pd.id,
    ...(pd.url ? { url: pd.url } : {}),
    ...(pd.number ? { number: pd.number } : {}),
  };
  await updateState(c, incident.id, (current) => {
    const {
      cursor: _cursor,
      failure: _failure,
      unconfigured: _u,
      linkRequested: _l,
      resolved: _r,
      awaitingPage: _a,
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
  const updated = await c.deps.incidents.update(incident.id, (current) => ({
    ...current,
    pagerduty: link,
  }));
  c.deps.incidents.refreshHeadline(incident.id);
  return updated;
}

/**
 * `/incident link <id>`: reads the PagerDuty incident (the person is waiting for the answer), links it,
 * and copies the whole timeline there. A duplicate the bot had created is noted and resolved.
 */
export async function linkIncident(
  c: MirrorContext,
  incident: Incident,
  pagerdutyId: string,
  actor: Actor,
): Promise<PagerDutyIncident> {
  const rest = c.deps.rest;
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
  await linkTo(c, incident, pd, 'linked');
  await c.deps.incidents.record(incident.id, {
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
export async function describeMirror(c: MirrorContext, incident: Incident): Promise<string> {
  const pd = incident.pagerduty;
  const link = pd ? (pd.url ? `<${pd.url}|${pd.number ? `#${pd.number}` : pd.id}>` : pdLabel(pd)) : undefined;
  if (c.deps.rest === undefined) return link ?? 'not configured (PAGERDUTY_TOKEN is not set)';
  const state = await mirrorState(c, incident.id);
  const parts: string[] = [];
  if (link && state.pagerdutyId === pd?.id) {
    const stored = await c.deps.timeline.readStored(incident.id);
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
    const serviceId = c.deps.config.services[incident.service]?.pagerduty?.serviceId;
    const waiting = state.awaitingPage;
    parts.push(
      state.linkRequested
        ? `linking ${state.linkRequested}…`
        : waiting && Date.parse(waiting.until) > c.deps.now().getTime()
          ? `waiting for the breaker's page (dedup key ${waiting.dedupKey}) to become a PagerDuty incident, until ${utc(waiting.until)}; only then is one created`
          : serviceId
            ? `creating on service ${serviceId}…`
            : `not linked: no pagerduty.serviceId for ${incident.service}; \`/incident link <id>\` attaches one`,
    );
  }
  const f = state.failure;
  if (f) {
    const wait = Date.parse(f.nextAttemptAt) - c.deps.now().getTime();
    parts.push(
      `:warning: mirror paused since ${utc(f.since)} (${f.attempts} tr${f.attempts === 1 ? 'y' : 'ies'}), next try ${wait > 0 ? `in ${formatDuration(wait)}` : 'now'}: ${f.message}`,
    );
  }
  return parts.join(' · ');
}
