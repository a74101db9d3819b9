// PagerDuty mirror, notes: the timeline as PagerDuty notes, resolve, a superseded incident, and failures.
import { PagerDutyError } from '../../src/adapters/pagerduty.ts';
import { utc } from '../../src/chat/blocks/kit.ts';
import { ExternalServiceError } from '../../src/errors.ts';
import { INCIDENT_RESOLVED, PAGERDUTY_RESOLVED, PAGERDUTY_UNAVAILABLE } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { type StoredEvent } from '../../src/timeline.ts';
import type { MirrorState } from './state.ts';
import type { MirrorContext } from './state.ts';
import {
  OWN_PREFIX,
  PENDING,
  eventLine,
  mirrorState,
  noteContent,
  pdLabel,
  recordEvent,
  updateState,
} from './state.ts';

/** Posts every event after the cursor, in batches; the cursor moves only past what PagerDuty accepted. */
export async function flushNotes(
  c: MirrorContext,
  incident: Incident,
  pagerdutyId: string,
): Promise<{ state: MirrorState; resolution?: string }> {
  const rest = c.deps.rest;
  let state = await mirrorState(c, incident.id);
  if (!rest) return { state };
  const stored = await c.deps.timeline.readStored(incident.id);
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
      c.deps.log.warn(
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
      await c.pace();
      await rest.addNote(pagerdutyId, c.deps.redactor.text(noteContent(incident.id, events)));
    }
    const cursor = { id: through.id, hash: through.event?.hash ?? '' };
    state = await updateState(c, incident.id, (current) =>
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
    if (mirrored && (count >= c.opts.maxEventsPerNote || lines + length > c.opts.maxNoteChars)) {
      await flush(batch[batch.length - 1]);
    }
    batch.push(entry);
    lines += length;
    if (mirrored) count += 1;
  }
  await flush(batch[batch.length - 1]);
  return { state, ...(resolution !== undefined ? { resolution } : {}) };
}

export async function resolveIncident(
  c: MirrorContext,
  incident: Incident,
  pagerdutyId: string,
  resolution: string | undefined,
): Promise<void> {
  const rest = c.deps.rest;
  if (!rest) return;
  await c.pace();
  const result = await rest.resolveIncident(
    pagerdutyId,
    c.deps.redactor.text(
      `Resolved in Slack (cloud-safety ${incident.id})${resolution ? `: ${resolution}` : ''}`,
    ),
  );
  await updateState(c, incident.id, (current) =>
    current.pagerdutyId === pagerdutyId ? { ...current, resolved: true } : undefined,
  );
  await recordEvent(c, incident, {
    kind: PAGERDUTY_RESOLVED,
    summary: result
      ? `PagerDuty ${pdLabel({ id: pagerdutyId, ...(incident.pagerduty?.number ? { number: incident.pagerduty.number } : {}) })} resolved`
      : `PagerDuty ${pagerdutyId} was already resolved there`,
    data: { pagerduty: pagerdutyId, alreadyResolved: result === null },
  });
}

/** The bot's own incident, replaced by a linked one: say so there and resolve it, so it stops paging. */
export async function supersede(
  c: MirrorContext,
  incident: Incident,
  oldId: string,
  current: { id: string; number?: number },
): Promise<void> {
  const rest = c.deps.rest;
  if (!rest) return;
  await c.pace();
  await rest.addNote(
    oldId,
    `Duplicate: cloud-safety ${incident.id} is now linked to PagerDuty ${pdLabel(current)}; this incident, created by the bot, is resolved as its duplicate.`,
  );
  await c.pace();
  await rest.resolveIncident(oldId, `Duplicate of ${pdLabel(current)} (cloud-safety ${incident.id})`);
  await updateState(c, incident.id, (state) => {
    const { superseded, ...rest } = state;
    const left = (superseded ?? []).filter((id) => id !== oldId);
    return left.length > 0 ? { ...rest, superseded: left } : rest;
  });
  await recordEvent(c, incident, {
    kind: PAGERDUTY_RESOLVED,
    summary: `PagerDuty ${oldId} (created by the bot) resolved as a duplicate of ${pdLabel(current)}`,
    data: { pagerduty: oldId, duplicateOf: current.id },
  });
}

export async function recordFailure(
  c: MirrorContext,
  incident: Incident,
  err: unknown,
  during: string,
): Promise<void> {
  const { now, log } = c.deps;
  const known = err instanceof ExternalServiceError;
  const message = known ? err.message : `internal error: ${(err as Error).message}`;
  const retryable = known ? err.retryable : true;
  const status = known ? err.status : undefined;
  const retryAfterMs = err instanceof PagerDutyError ? err.retryAfterMs : undefined;
  let first = false;
  const state = await updateState(c, incident.id, (current) => {
    const attempts = (current.failure?.attempts ?? 0) + 1;
    first = current.failure === undefined;
    // Retryable: back off exponentially. A refusal (bad key, unknown id): try again rarely, so a fix is picked up.
    let delay = retryable
      ? Math.min(c.opts.retryBaseMs * 2 ** (attempts - 1), c.opts.retryMaxMs)
      : c.opts.retryMaxMs;
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
  await c.deps.store.addToSet(PENDING, incident.id);
  if (first) {
    await recordEvent(c, incident, {
      kind: PAGERDUTY_UNAVAILABLE,
      summary: `PagerDuty mirror paused (${during}): ${message} Next try ${utc(state.failure?.nextAttemptAt ?? '')}; commands are not affected.`,
      data: { during, status, retryable, message },
    });
  }
}
