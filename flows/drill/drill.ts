// What /drill does: start a drill world for a scenario and declare a drill incident against it, add faults live,
// report where the story stands, and stop it with its score. The drill incident's service exists only in the drill
// and resolves to the drill's own adapters (routing.ts), so no runbook command in it can reach a real endpoint.
import { formatDuration } from '../../src/duration.ts';
import { UsageError } from '../../src/errors.ts';
import type { DrillCaps } from './caps.ts';
import type { Incident } from '../../src/incident.ts';
import type { Actor } from '../../src/timeline.ts';
import {
  FAULTS,
  loadScenario,
  ScenarioError,
  scenarioNames,
  startDrillWorld,
  type FaultName,
} from '../../src/startup.ts';
import { drillAdapters, drillService } from './service.ts';
import {
  DrillGoneError,
  endRecord,
  hostAlive,
  recordInChannel,
  recordOf,
  saveRecord,
  startHeartbeat,
  type DrillRecord,
} from './remote.ts';
import type { ActiveDrill, Drills } from './routing.ts';
import { DRILL_FAULT, DRILL_OOM, DRILL_STARTED, DRILL_STOPPED, drillScore, scoreLines } from './score.ts';
import { drillStartedMessage, drillStatusMessage, drillStoppedMessage } from './blocks.ts';

export function drillsOf(deps: DrillCaps): Drills {
  const drills = deps.adapters.drills;
  if (!drills) throw new Error('drills are not wired: buildBot gives every bot a Drills');
  return drills;
}

export function isFault(name: string): name is FaultName {
  return Object.hasOwn(FAULTS, name);
}

/** Starts a drill in `channel`: a fresh world, the drill service and its adapters, then the drill incident. */
export async function startDrill(
  deps: DrillCaps,
  input: { channel: string; actor: Actor; scenario: string; timeFactor: number; incident: Incident | null },
): Promise<ActiveDrill> {
  const drills = drillsOf(deps);
  const running = drills.inChannel(input.channel);
  if (running) {
    throw new UsageError(
      `A drill is already running here (${running.id}, scenario ${running.world.scenario.name}, ${running.incidentId ?? 'declaring'}). \`/drill stop\` ends it; \`/drill status\` shows it.`,
    );
  }
  await refuseRemote(deps, input.channel, (r) => input.incident?.service === r.service, true);
  if (input.incident) {
    throw new UsageError(
      `This channel has a real incident, ${input.incident.id} (${input.incident.service}); a drill never shares a channel with one. Start it in a channel of its own.`,
    );
  }
  let scenario;
  try {
    scenario = loadScenario(input.scenario);
  } catch (err) {
    if (err instanceof ScenarioError) throw new UsageError(err.message);
    throw err;
  }
  const n = await deps.store.incr('seq:drill');
  const id = `drill-${n}`;
  const service = `${scenario.service}-drill-${n}`.slice(0, 40);
  const context = `cs-${id}`;
  const holder: { drill?: ActiveDrill; recorded: Promise<unknown> } = { recorded: Promise.resolve() };
  // The simulators tell of OOMKills and faults while serving a request: recorded in order, after the request.
  const record = (kind: string, summary: string, data: Record<string, unknown>) => {
    const incidentId = holder.drill?.incidentId;
    if (!incidentId) return;
    const next = holder.recorded.then(() =>
      deps.incidents.record(incidentId, { step: null, kind, actor: SIMULATOR, summary, data }),
    );
    holder.recorded = next.catch((err: unknown) => deps.log.warn({ err, kind }, 'drill event not recorded'));
    deps.tasks.run(`drill:${kind}`, () => holder.recorded);
  };
  const world = await startDrillWorld({
    scenario,
    timeFactor: input.timeFactor,
    now: () => deps.now().getTime(),
    ...(drills.postgresUrl ? { postgresUrl: drills.postgresUrl } : {}),
    ...(drills.bind ? { bind: drills.bind } : {}),
    ...(drills.embeddedLedger === false ? { embeddedLedger: false as const } : {}),
    ...(drills.execStartMs === undefined ? {} : { execStartMs: drills.execStartMs }),
    onOom: (pod, restarts, at) =>
      record(DRILL_OOM, `${pod} OOMKilled (restart ${restarts})`, {
        pod,
        restarts,
        oomAt: new Date(at).toISOString(),
      }),
    onFault: (fault, what) => record(DRILL_FAULT, `Fault ${fault}: ${what}`, { fault }),
  });
  try {
    const section = drillService(
      {
        app: world.scenario.service,
        prometheusUrl: world.prometheusUrl,
        cdc: { url: world.cdc.url, connector: world.cdc.connector },
      },
      input.channel,
      context,
    );
    const { adapters, evidenceDir } = drillAdapters(
      deps.config,
      service,
      section,
      world,
      deps.metrics,
      deps.log,
    );
    const drill: ActiveDrill = {
      id,
      channel: input.channel,
      service,
      context,
      world,
      adapters,
      startedAt: deps.now(),
      startedBy: input.actor,
      timeFactor: input.timeFactor,
      evidenceDir,
      flush: () => holder.recorded,
    };
    // Routed before the incident exists: nothing about it can reach a real endpoint, not even its first anchor.
    deps.config.services[service] = section;
    drills.add(drill);
    drills.install(deps.adapters, drill);
    holder.drill = drill;
    // Recorded for the other replicas (they build the drill's adapters from these endpoints), with a heartbeat.
    drill.record = recordOf(drill, world, deps.instanceId);
    await saveRecord(deps.store, drill.record);
    drill.stopHeartbeat = startHeartbeat(
      deps.store,
      drill.record,
      (err) => deps.log.warn({ err, drill: id }, 'drill heartbeat not written'),
      drills.heartbeat,
    );
    const incident = await deps.incidents.declare({
      service,
      title: `DRILL ${scenario.title}`,
      severity: 'SEV1',
      channel: input.channel,
      actor: input.actor,
    });
    drill.incidentId = incident.id;
    drill.record = { ...drill.record, incidentId: incident.id };
    await saveRecord(deps.store, drill.record);
    await deps.incidents.record(incident.id, {
      step: null,
      kind: DRILL_STARTED,
      actor: input.actor,
      summary: `${input.actor.name} started drill ${id}: scenario ${scenario.name} (${scenario.title}), time factor ${input.timeFactor}`,
      data: { drill: id, scenario: scenario.name, timeFactor: input.timeFactor, service },
    });
    await deps.chat.post(input.channel, drillStartedMessage(drill, incident.id));
    return drill;
  } catch (err) {
    drills.end(holder.drill ?? ({ channel: input.channel } as ActiveDrill));
    if (holder.drill?.record) await endRecord(deps.store, holder.drill.record, true);
    await world.stop();
    throw err;
  }
}

const SIMULATOR: Actor = { type: 'system', id: 'drill', name: 'drill simulator' };

async function runningIn(deps: DrillCaps, channel: string, usage: string): Promise<ActiveDrill> {
  const drill = drillsOf(deps).inChannel(channel);
  if (!drill) await refuseRemote(deps, channel, () => true);
  if (!drill)
    throw new UsageError(
      `No drill is running in this channel. Start one with \`/drill start [scenario]\` (scenarios: ${scenarioNames().join(', ')}).`,
      usage,
    );
  return drill;
}

export async function injectFault(
  deps: DrillCaps,
  input: { channel: string; actor: Actor; fault: string; usage: string },
): Promise<string> {
  const drill = await runningIn(deps, input.channel, input.usage);
  if (!isFault(input.fault)) {
    throw new UsageError(
      `"${input.fault}" is not a fault. Use one of: ${Object.entries(FAULTS)
        .map(([name, what]) => `\`${name}\` (${what})`)
        .join('; ')}.`,
      input.usage,
    );
  }
  const what = drill.world.inject(input.fault);
  return `${input.actor.name} injected ${input.fault}: ${what}`;
}

export async function drillStatus(deps: DrillCaps, channel: string, usage: string) {
  const drill = await runningIn(deps, channel, usage);
  return drillStatusMessage(drill, formatDuration(drill.world.story.elapsed()));
}

/** Stops the drill: the world goes away, the incident is resolved, and the score is posted and recorded. */
export async function stopDrill(
  deps: DrillCaps,
  input: { channel: string; actor: Actor; usage: string },
): Promise<void> {
  const drills = drillsOf(deps);
  const elsewhere = drills.inChannel(input.channel)
    ? undefined
    : await recordInChannel(deps.store, input.channel);
  // The host is gone: nothing to stop, but the drill incident is closed and scored from its timeline, here.
  if (elsewhere && !elsewhere.stopped && elsewhere.incidentId && !(await hostAlive(deps.store, elsewhere)))
    return finishDrill(
      deps,
      elsewhere,
      input.actor,
      `after its world went away with replica ${elsewhere.host}`,
    );
  const drill = await runningIn(deps, input.channel, input.usage);
  // Bring the story up to now, so an OOMKill nobody looked at yet is on the timeline before the score.
  drill.world.story.advance();
  await drill.flush();
  drills.end(drill);
  await drill.world.stop();
  await drill.adapters.ledger?.close();
  if (!drill.record || !drill.incidentId) return;
  await finishDrill(
    deps,
    { ...drill.record, incidentId: drill.incidentId },
    input.actor,
    `after ${formatDuration(drill.world.story.elapsed())} of story time`,
  );
}

/** Records the stop, resolves the drill incident, posts the score (from the timeline) and marks the drill stopped. */
async function finishDrill(deps: DrillCaps, record: DrillRecord, actor: Actor, how: string): Promise<void> {
  await endRecord(deps.store, record, true);
  const incidentId = record.incidentId;
  if (!incidentId) return;
  await deps.incidents.record(incidentId, {
    step: null,
    kind: DRILL_STOPPED,
    actor,
    summary: `${actor.name} stopped drill ${record.id} ${how}`,
    data: { drill: record.id },
  });
  const incident = await deps.incidents.get(incidentId);
  if (incident?.status === 'active')
    await deps.incidents.resolve(incident, actor, `drill ${record.id} stopped`);
  const score = drillScore(await deps.timeline.read(incidentId));
  await deps.chat.post(
    record.channel,
    drillStoppedMessage(record, incidentId, score ? scoreLines(score) : []),
  );
}

/**
 * A drill in this channel that another replica hosts: its world (story, faults) is there, not here. Refuses
 * /drill start|inject|status while it runs, and says plainly when its world is gone.
 */
async function refuseRemote(
  deps: DrillCaps,
  channel: string,
  goneRefuses: (record: DrillRecord) => boolean,
  starting = false,
): Promise<void> {
  const record = await recordInChannel(deps.store, channel);
  if (!record || record.stopped || record.host === deps.instanceId) return;
  if (await hostAlive(deps.store, record)) {
    if (starting)
      throw new UsageError(
        `A drill is already running here (${record.id}, scenario ${record.scenario}, ${record.incidentId ?? 'declaring'}, hosted by replica ${record.host}). \`/drill stop\` ends it; the runbook commands act on it from any replica.`,
      );
    throw new UsageError(
      `Drill ${record.id} runs here on replica ${record.host}, whose process holds its simulated world; this request reached replica ${deps.instanceId}. /drill inject, status and stop act on that world, so run it again (Slack hands each request to any replica). The runbook commands (/contain, /telemetry, /ledger, …) work from any replica.`,
    );
  }
  if (goneRefuses(record)) throw new DrillGoneError(record);
}
