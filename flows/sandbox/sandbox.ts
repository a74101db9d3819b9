// Step U: stands up the incident's sandbox from the team's Terraform, streams progress, drives load, tears it down on time.
import type { Message } from '../../src/chat/chat.ts';
import { sandboxStatus } from './blocks.ts';
import type { SandboxCaps } from './caps.ts';
import { UsageError } from '../../src/errors.ts';
import type { Incident } from '../../src/incident.ts';
import { interrupted } from './down.ts';
import { SANDBOX_TTL_QUEUE, getRecord, lockKey, sandboxConfig } from './record.ts';
import type { Sandbox } from '../../src/config.ts';
import type { SandboxRecord } from '../../src/sandbox.ts';
import type { Actor } from '../../src/timeline.ts';
import { sandboxUp } from './up.ts';
import { onTeardownDue, sandboxDown } from './down.ts';

export { SANDBOX_TTL_QUEUE, maskOutputs, outputEnvName } from './record.ts';

/** Registers the teardown timer handler; called once by the composition root so restarts still tear down. */
export function registerSandboxJobs(deps: SandboxCaps): void {
  deps.scheduler.handle(SANDBOX_TTL_QUEUE, (incidentId) => new Sandboxes(deps).onDue(incidentId));
}

// ---- /sandbox status ----------------------------------------------------------------------------------------

export async function statusReply(deps: SandboxCaps, incident: Incident, usage?: string): Promise<Message> {
  let record = await getRecord(deps, incident.id);
  if (record?.state === 'creating' && (await deps.store.get(lockKey(incident.id))) === null) {
    record = (await interrupted(deps, incident.id)) ?? record;
  }
  if (!record) {
    throw new UsageError(`${incident.id} has no sandbox yet. \`/sandbox up\` stands one up.`, usage);
  }
  let link: string | undefined;
  if (record.card) {
    try {
      link = await deps.chat.permalink(record.card);
    } catch {
      link = undefined;
    }
  }
  return sandboxStatus(record, deps.now(), link);
}

/** The step's entry points; each stage lives in its own file (up, load, down, record). */
export class Sandboxes {
  #deps: SandboxCaps;

  constructor(deps: SandboxCaps) {
    this.#deps = deps;
  }

  async get(incidentId: string): Promise<SandboxRecord | null> {
    return getRecord(this.#deps, incidentId);
  }

  /** The service's sandbox config, or a message saying how to add it. */
  config(service: string, usage?: string): Sandbox {
    return sandboxConfig(this.#deps, service, usage);
  }

  up(input: { incident: Incident; service: string; actor: Actor; usage?: string }): Promise<Message> {
    return sandboxUp(this.#deps, input);
  }

  down(input: { incident: Incident; actor: Actor; usage?: string }): Promise<Message> {
    return sandboxDown(this.#deps, input);
  }

  /** A teardown timer came due: the TTL ended, or a failed teardown's retry. */
  onDue(incidentId: string): Promise<void> {
    return onTeardownDue(this.#deps, incidentId);
  }

  status(incident: Incident, usage?: string): Promise<Message> {
    return statusReply(this.#deps, incident, usage);
  }
}
