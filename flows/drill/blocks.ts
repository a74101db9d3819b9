// The drill's cards: started (what to rehearse), status (where the story stands), stopped (the score).
import { context, fields, header, section } from '../../src/chat/blocks/kit.ts';
import type { Message } from '../../src/chat/chat.ts';
import { FAULTS } from '../../src/startup.ts';
import type { ActiveDrill } from './routing.ts';

export function drillStartedMessage(drill: ActiveDrill, incidentId: string): Message {
  const s = drill.world.scenario;
  return {
    text: `Drill ${drill.id} started: ${s.title} (${incidentId}, service ${drill.service})`,
    blocks: [
      header(`Drill ${drill.id}: ${s.title}`),
      section(s.description),
      fields([
        ['Incident', incidentId],
        ['Service', `\`${drill.service}\` (simulated)`],
        ['Scenario', `\`${s.name}\``],
        ['Time factor', `${drill.timeFactor} (1 story minute = ${Math.round(60 * drill.timeFactor)} s)`],
      ]),
      section(
        "Run the runbook here as for real: `/contain`, `/telemetry`, `/ledger audit`, … They act on this drill's simulated cloud only. `/drill inject <fault>` adds a fault, `/drill status` shows the story, `/drill stop` ends it with a score.",
      ),
      context(`Faults: ${Object.keys(FAULTS).join(', ')}`),
    ],
  };
}

export function drillStatusMessage(drill: ActiveDrill, elapsed: string): Message {
  const { world } = drill;
  const story = world.story;
  const share = world.cloudShare();
  const limit = world.scenario.pods.limitMiB;
  const pods = story.pods.map(
    (p) =>
      `${p.name}: ${Math.round(p.memoryMiB)} / ${limit} MiB (${Math.round((100 * p.memoryMiB) / limit)}%), ${p.restarts} restarts`,
  );
  return {
    text: `Drill ${drill.id}: ${elapsed} of story time, cloud ${Math.round(share * 100)}% of traffic, 5xx ${(story.serviceErrorRatio() * 100).toFixed(2)}%`,
    blocks: [
      header(`Drill ${drill.id} · ${world.scenario.name} · ${elapsed} in`),
      fields([
        ['Incident', drill.incidentId ?? 'declaring'],
        ['Traffic on cloud', `${Math.round(share * 100)}%`],
        ['5xx (users see)', `${(story.serviceErrorRatio() * 100).toFixed(2)}%`],
        ['OOMKills in the drill', String(story.ooms.length)],
      ]),
      section(pods.join('\n')),
      context(
        world.injected.length > 0
          ? `Faults so far: ${world.injected.map((f) => f.fault).join(', ')}`
          : 'No faults yet: `/drill inject <fault>` adds one.',
      ),
    ],
  };
}

export function drillStoppedMessage(drill: { id: string }, incidentId: string, score: string[]): Message {
  return {
    text: `Drill ${drill.id} stopped. ${score[0] ?? ''}`,
    blocks: [
      header(`Drill ${drill.id} stopped · ${incidentId}`),
      section(score.join('\n')),
      context('`/postmortem` drafts the write-up, with this score in it. The simulated cloud is gone.'),
    ],
  };
}
