// Step U, shared: the sandbox record, its run lock, Terraform target, and the chat and store helpers every stage uses.
import { takeLease, type Lease } from '../../src/lease.ts';
import { resolve } from 'node:path';
import type {
  Terraform,
  TerraformOutput,
  TerraformRunResult,
  TerraformTarget,
} from '../../src/adapters/terraform.ts';
import type { Message, MessageRef } from '../../src/chat/chat.ts';
import { progressMessage, sandboxCard } from './blocks.ts';
import type { Sandbox } from '../../src/config.ts';
import type { SandboxCaps } from './caps.ts';
import { ConfigError, UsageError } from '../../src/errors.ts';
import {
  applyProgress,
  newProgress,
  type Progress,
  type ProgressEvent,
  type SandboxOutput,
  type SandboxRecord,
} from '../../src/sandbox.ts';
import { getJson, updateJson } from '../../src/store/store.ts';

/** Durable teardown timers, one member per incident (TTL end, then retries of a failed teardown). */
export const SANDBOX_TTL_QUEUE = 'sandbox-ttl';
/** The Redis lock that keeps two replicas from running Terraform on one workspace at once. */
const LOCK_MS = 60_000;
const LOCK_RENEW_MS = 20_000;
/** A due teardown that finds a run in progress looks again this much later. */
export const BUSY_RETRY_MS = 30_000;
/** Set before every teardown, so a bot that dies mid-destroy still has a timer that finishes the job. */
export const SAFETY_NET_MS = 10 * 60_000;

export const recordKey = (incident: string) => `sandbox:${incident}`;
export const lockKey = (incident: string) => `sandbox:${incident}:run`;

export type TeardownReason = 'command' | 'ttl' | 'retry';

export function outputText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Outputs as we keep and show them: a sensitive output keeps its name only. */
export function maskOutputs(outputs: TerraformOutput[]): SandboxOutput[] {
  return outputs.map((o) =>
    o.sensitive
      ? { name: o.name, sensitive: true }
      : { name: o.name, sensitive: false, value: outputText(o.value) },
  );
}

/** `TF_OUTPUT_DB_HOST` for output `db_host`. */
export function outputEnvName(name: string): string {
  return `TF_OUTPUT_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

export async function getRecord(deps: SandboxCaps, incidentId: string): Promise<SandboxRecord | null> {
  return getJson<SandboxRecord>(deps.store, recordKey(incidentId));
}

/** The service's sandbox config, or a message saying how to add it. */
export function sandboxConfig(deps: SandboxCaps, service: string, usage?: string): Sandbox {
  const sandbox = deps.config.services[service]?.sandbox;
  if (!sandbox) {
    throw new UsageError(
      `${service} has no sandbox configured. Add services.${service}.sandbox.terraform.dir (the team's Terraform module) to cloud-safety.yml; docs/sandbox.md has a complete example.`,
      usage,
    );
  }
  return sandbox;
}

export function terraformOf(deps: SandboxCaps): Terraform {
  const terraform = deps.adapters.terraform;
  if (!terraform) {
    throw new ConfigError(
      'The Terraform adapter is not set up (no service has a sandbox section); add one and restart the bot.',
    );
  }
  return terraform;
}

export function targetOf(
  deps: SandboxCaps,
  record: Pick<SandboxRecord, 'incident' | 'service' | 'workspace' | 'image' | 'evidence'>,
  config: Sandbox,
): TerraformTarget {
  const tf = config.terraform;
  const dir = resolve(tf.dir);
  return {
    dir,
    workspace: record.workspace,
    vars: tf.vars,
    envVars: {
      incident_id: record.incident,
      service: record.service,
      evidence: record.evidence,
      ...(record.image ? { image: record.image } : {}),
    },
    secretEnv: Object.fromEntries(Object.entries(tf.secretVars).map(([name, ref]) => [name, ref.env])),
    varFiles: tf.varFile ? [resolve(dir, tf.varFile)] : [],
    timeoutMs: tf.timeout,
  };
}

/** Takes the run lock of an incident's sandbox (renewed until released); null while another run holds it. */
export function takeRunLock(deps: SandboxCaps, incidentId: string): Promise<Lease | null> {
  const { store, instanceId, log } = deps;
  return takeLease(store, lockKey(incidentId), {
    owner: instanceId,
    ttlMs: LOCK_MS,
    renewMs: LOCK_RENEW_MS,
    onLost: (reason) => log.error({ incident: incidentId, reason }, 'lost the sandbox run lock'),
  });
}

/** Runs `fn` under the held run lock, then releases it. */
export async function locked<T>(lease: Lease, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await lease.release();
  }
}

// ---- chat and store helpers ---------------------------------------------------------------------------------

/** A thread message edited as Terraform streams; `finish` publishes the final state. */
export async function progressStream(
  deps: SandboxCaps,
  record: SandboxRecord,
  operation: 'apply' | 'destroy',
) {
  const { throttle, chat, log } = deps;
  let progress: Progress = newProgress(operation);
  const ref = await postThread(deps, record, progressMessage(record.workspace, progress));
  const publish = (finished?: 'ok' | 'failed') => {
    if (!ref) return;
    const view = progressMessage(record.workspace, progress, finished);
    throttle.schedule(`sandbox-progress:${ref.ts}`, async () => {
      try {
        await chat.update(ref, view);
      } catch (err) {
        log.warn({ err, incident: record.incident }, 'could not update the sandbox progress');
      }
    });
  };
  return {
    onEvent: (event: ProgressEvent) => {
      progress = applyProgress(progress, event);
      publish();
    },
    finish: (ok: boolean): Progress => {
      publish(ok ? 'ok' : 'failed');
      return progress;
    },
  };
}

/** Posts the sandbox card (`thread` false) or into its thread; a failure is logged and yields undefined. */
async function postTo(
  deps: SandboxCaps,
  record: SandboxRecord,
  message: Message,
  thread: boolean,
): Promise<MessageRef | undefined> {
  try {
    return await (thread
      ? deps.chat.post(record.channel, message, record.card ? { threadTs: record.card.ts } : {})
      : deps.chat.post(record.channel, message));
  } catch (err) {
    const what = thread ? 'could not post to the sandbox thread' : 'could not post the sandbox card';
    deps.log.warn({ err, incident: record.incident }, what);
    return undefined;
  }
}

export const postRoot = (deps: SandboxCaps, r: SandboxRecord, m: Message) => postTo(deps, r, m, false);
export const postThread = (deps: SandboxCaps, r: SandboxRecord, m: Message) => postTo(deps, r, m, true);

export function refreshCard(deps: SandboxCaps, incidentId: string): void {
  const { throttle, chat, log, now } = deps;
  throttle.schedule(`sandbox-card:${incidentId}`, async () => {
    const record = await getRecord(deps, incidentId);
    if (!record?.card) return;
    try {
      await chat.update(record.card, sandboxCard(record, now()));
    } catch (err) {
      log.warn({ err, incident: incidentId }, 'could not update the sandbox card');
    }
  });
}

export async function saveRecord(
  deps: SandboxCaps,
  incidentId: string,
  change: (r: SandboxRecord) => SandboxRecord,
): Promise<SandboxRecord | null> {
  // The record is stored text too: whatever a Terraform line carried, it holds no secret value.
  return updateJson<SandboxRecord>(deps.store, recordKey(incidentId), (current) =>
    current ? deps.redactor.known(change(current)) : undefined,
  );
}

export function failedRun(err: unknown): TerraformRunResult {
  return {
    ok: false,
    stage: 'init',
    workspaceReady: false,
    errors: [(err as Error).message],
    warnings: [],
    outputs: [],
    timedOut: false,
  };
}
