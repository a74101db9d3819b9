// Drill: rehearse the runbook in a real channel against a simulated cloud, scored at the end.
import type { Step } from '../../commands/step.ts';
import { drillCommand } from './command.ts';
import type { Drills } from './routing.ts';

/** Wraps `methods` of `target` so that whatever they return is checked for a drill service first. */
function adoptOnRead<T extends object, K extends keyof T>(
  target: T,
  methods: K[],
  serviceOf: (value: Awaited<ReturnType<Extract<T[K], (...a: never[]) => unknown>>>) => string | undefined,
  drills: Drills,
): void {
  for (const method of methods) {
    const original = target[method] as (...args: unknown[]) => Promise<unknown>;
    const wrapped = async (...args: unknown[]) => {
      const value = await original.apply(target, args);
      const service = serviceOf(value as never);
      if (service) await drills.adopt(service);
      return value;
    };
    Object.assign(target, { [method]: wrapped });
  }
}

export const drillStep: Step = {
  name: 'drill',
  commands: [drillCommand],
  register: (deps) => {
    // The evidence router asks which service an incident is for (its anchor is written before /drill knows its id).
    const drills = deps.adapters.drills;
    if (!drills) return;
    drills.serviceOf = async (id) => (await deps.incidents.get(id))?.service;
    drills.latestServiceIn = async (channel) => (await deps.incidents.latest(channel))?.service;
    // A drill another replica started: met first through its incident or an approval of it, then routed to
    // its own adapters (flows/drill/remote.ts) before any flow reads the service.
    drills.attach(deps);
    adoptOnRead(deps.incidents, ['get', 'active', 'latest'], (i) => i?.service, drills);
    adoptOnRead(deps.approvals, ['get'], (a) => a?.service, drills);
  },
};
