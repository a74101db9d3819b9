// Drill: rehearse the runbook in a real channel against a simulated cloud, scored at the end.
import type { Step } from '../../commands/step.ts';
import type { DrillCaps } from './caps.ts';
import { drillCommand } from './command.ts';

export const drillStep: Step<DrillCaps> = {
  name: 'drill',
  commands: [drillCommand],
  register: (deps) => {
    // The evidence router asks which service an incident is for (its anchor is written before /drill knows its id).
    const drills = deps.adapters.drills;
    if (!drills) return;
    drills.serviceOf = async (id) => (await deps.incidents.get(id))?.service;
    drills.latestServiceIn = async (channel) => (await deps.incidents.latest(channel))?.service;
  },
};
