// Step U: stands up the incident's sandbox from the team's Terraform, streams progress, drives load, tears it down on time.
import { takeLease, type Lease } from '../../src/lease.ts';
import { resolve } from 'node:path';
import type { LoadResult } from '../../src/adapters/load.ts';
import type {
  Terraform,
  TerraformOutput,
  TerraformRunResult,
  TerraformTarget,
} from '../../src/adapters/terraform.ts';
import type { Message, MessageRef } from '../../src/chat/chat.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import {
  escalationMessage,
  failureMessage,
  loadMessage,
  outputsMessage,
  progressMessage,
  sandboxCard,
  sandboxStatus,
} from './blocks.ts';
import { utc } from '../../src/chat/blocks/kit.ts';
import type { Sandbox } from '../../src/config.ts';
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { ConfigError, UsageError } from '../../src/errors.ts';
import {
  SANDBOX_DOWN,
  SANDBOX_FAILED,
  SANDBOX_LOAD,
  SANDBOX_REQUESTED,
  SANDBOX_TEARDOWN,
  SANDBOX_UP,
  type SandboxEventData,
} from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { createRedactor } from '../../src/redact.ts';
import {
  applyProgress,
  newProgress,
  retryDelayMs,
  sandboxInputs,
  shouldEscalate,
  workspaceName,
  type Progress,
  type ProgressEvent,
  type SandboxOutput,
  type SandboxRecord,
} from '../../src/sandbox.ts';
import { getJson, updateJson } from '../../src/store/store.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';

/** Durable teardown timers, one member per incident (TTL end, then retries of a failed teardown). */
export const SANDBOX_TTL_QUEUE = 'sandbox-ttl';
/** The Redis lock that keeps two replicas from running Terraform on one workspace at once. */
const LOCK_MS = 60_000;
const LOCK_RENEW_MS = 20_000;
/** A due teardown that finds a run in progress looks again this much later. */
const BUSY_RETRY_MS = 30_000;
/** Set before every teardown, so a bot that dies mid-destroy still has a timer that finishes the job. */
const SAFETY_NET_MS = 10 * 60_000;

const recordKey = (incident: string) => `sandbox:${incident}`;
const lockKey = (incident: string) => `sandbox:${incident}:run`;

type TeardownReason = 'command' | 'ttl' | 'retry';

/** Registers the teardown timer handler; called once by the composition root so restarts still tear down. */
export function registerSandboxJobs(deps: Deps): void {
  deps.scheduler.handle(SANDBOX_TTL_QUEUE, (incidentId) => new Sandboxes(deps).onDue(incidentId));
}

function outputText(value: unknown): string {
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

export class Sandboxes {
  #deps: Deps;

  constructor(deps: Deps) {
    this.#deps = deps;
  }

  async get(incidentId: string): Promise<SandboxRecord | null> {
    return getJson<SandboxRecord>(this.#deps.store, recordKey(incidentId));
  }

  /** The service's sandbox config, or a message saying how to add it. */
  config(service: string, usage?: string): Sandbox {
    const sandbox = this.#deps.config.services[service]?.sandbox;
    if (!sandbox) {
      throw new UsageError(
        `${service} has no sandbox configured. Add services.${service}.sandbox.terraform.dir (the team's Terraform module) to cloud-safety.yml; docs/sandbox.md has a complete example.`,
        usage,
      );
    }
    return sandbox;
  }

  #terraform(): Terraform {
    const terraform = this.#deps.adapters.terraform;
    if (!terraform) {
      throw new ConfigError(
        'The Terraform adapter is not set up (no service has a sandbox section); add one and restart the bot.',
      );
    }
    return terraform;
  }

  #target(
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

  // ---- /sandbox up -------------------------------------------------------------------------------------------

  async up(input: { incident: Incident; service: string; actor: Actor; usage?: string }): Promise<Message> {
    const { store, incidents, timeline, scheduler, tasks, now } = this.#deps;
    const { incident, service, actor } = input;
    const config = this.config(service, input.usage);
    const terraform = this.#terraform();
    const workspace = workspaceName(config.terraform.workspacePrefix, incident.id);
    const inputs = sandboxInputs(await timeline.read(incident.id));
    const target = this.#target({ incident: incident.id, service, workspace, ...inputs }, config);

    const existing = await this.get(incident.id);
    const busy = this.#alreadyThere(existing, (await store.get(lockKey(incident.id))) !== null);
    if (busy) return busy;
    // Everything the run needs is checked before anything is written or locked.
    const version = await terraform.check(target);
    const lease = await this.#lock(incident.id);
    if (!lease) {
      return notice(
        `A Terraform run for \`${workspace}\` is already in progress (another replica or another person). Follow its thread, then \`/sandbox status\`.`,
      );
    }
    let record: SandboxRecord;
    try {
      // Re-read under the lock: another replica may have finished an `up` between our read and the lock.
      const current = await this.get(incident.id);
      const raced = this.#alreadyThere(current, false);
      if (raced) {
        await lease.release();
        return raced;
      }
      const at = now();
      record = {
        incident: incident.id,
        service,
        channel: incident.channel,
        workspace,
        dir: target.dir,
        state: 'creating',
        requestedBy: actor,
        requestedAt: at.toISOString(),
        expiresAt: new Date(at.getTime() + config.ttl).toISOString(),
        ...inputs,
        resources: { planned: 0, done: 0, failed: 0 },
        outputs: [],
        errors: [],
        destroyAttempts: 0,
        workspaceCreated: current?.state !== 'destroyed' && current?.workspaceCreated === true,
        ...(current?.card && current.state !== 'destroyed' ? { card: current.card } : {}),
      };
      await incidents.record(incident.id, {
        step: 'U',
        kind: SANDBOX_REQUESTED,
        actor,
        summary: `${actor.name} started sandbox ${workspace} for ${service} (terraform ${version}${record.image ? `, image ${record.image}` : ''}, ${record.evidence.length} evidence artifact(s), TTL ${formatDuration(config.ttl)})`,
        data: {
          workspace,
          service,
          dir: target.dir,
          ...(record.image ? { image: record.image } : {}),
          evidence: record.evidence,
          vars: [...Object.keys(config.terraform.vars), ...Object.keys(config.terraform.secretVars)],
          expiresAt: record.expiresAt,
          terraformVersion: version,
        },
        stepState: 'in_progress',
      });
      await store.set(recordKey(incident.id), JSON.stringify(this.#deps.redactor.known(record)));
      // The timer looks in while the apply runs: a bot that dies mid-apply leaves a run nobody finishes, and
      // the next bot must say so (and keep the TTL) instead of showing "Applying…" forever.
      await scheduler.at(
        SANDBOX_TTL_QUEUE,
        incident.id,
        Math.min(Date.parse(record.expiresAt), at.getTime() + BUSY_RETRY_MS),
      );
    } catch (err) {
      await lease.release();
      throw err;
    }
    if (!record.card) {
      const card = await this.#postRoot(record, sandboxCard(record, now()));
      if (card) record = (await this.#save(incident.id, (r) => ({ ...r, card }))) ?? record;
    } else {
      this.#refreshCard(incident.id);
    }
    tasks.run(`sandbox-up:${incident.id}`, async () => {
      const ok = await this.#locked(lease, () => this.#apply(record, config, terraform));
      if (ok && config.load) await this.#load(incident.id, config, terraform);
    });
    return notice(
      `Standing up sandbox *${workspace}* for *${service}* from \`${config.terraform.dir}\`${record.image ? ` with image \`${record.image}\`` : ' without an image (no `/telemetry` snapshot yet, so the module default applies)'} and ${record.evidence.length} evidence artifact(s). Progress is in the thread under the sandbox card. It is destroyed automatically at ${utc(record.expiresAt)} (TTL ${formatDuration(config.ttl)}), or now with \`/sandbox down\`.`,
    );
  }

  /**
   * A reply when a sandbox already exists and a new `up` must not start; undefined when one may. `running` says
   * whether someone holds the run lock: a `creating` sandbox without one was interrupted and may be re-applied.
   */
  #alreadyThere(existing: SandboxRecord | null, running: boolean): Message | undefined {
    if (!existing) return undefined;
    switch (existing.state) {
      case 'destroyed':
      case 'failed':
        return undefined; // a failed apply may be re-applied in the same workspace once fixed
      case 'creating':
        if (!running) return undefined;
        return notice(
          `Sandbox *${existing.workspace}* is already being created (started by ${existing.requestedBy.name} at ${utc(existing.requestedAt)}). Follow its thread; \`/sandbox status\` shows where it is.`,
        );
      case 'up':
        return notice(
          `This incident already has sandbox *${existing.workspace}* (up since ${utc(existing.readyAt ?? existing.requestedAt)}, destroyed at ${utc(existing.expiresAt)}). \`/sandbox status\` shows its outputs; \`/sandbox down\` destroys it.`,
        );
      case 'destroying':
        return notice(
          running
            ? `Sandbox *${existing.workspace}* is being destroyed right now. Run \`/sandbox up\` again once its thread says it is gone.`
            : `The teardown of sandbox *${existing.workspace}* was interrupted. Run \`/sandbox down\` to finish it (the bot also retries on its own), then \`/sandbox up\`.`,
        );
      case 'destroy_failed':
        return notice(
          `The last teardown of sandbox *${existing.workspace}* failed and its resources are still there. Run \`/sandbox down\` to retry it before standing up a new one.`,
        );
    }
  }

  /** Takes the run lock of an incident's sandbox (renewed until released); null while another run holds it. */
  #lock(incidentId: string): Promise<Lease | null> {
    const { store, instanceId, log } = this.#deps;
    return takeLease(store, lockKey(incidentId), {
      owner: instanceId,
      ttlMs: LOCK_MS,
      renewMs: LOCK_RENEW_MS,
      onLost: (reason) => log.error({ incident: incidentId, reason }, 'lost the sandbox run lock'),
    });
  }

  /** Runs `fn` under the held run lock, then releases it. */
  async #locked<T>(lease: Lease, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } finally {
      await lease.release();
    }
  }

  async #apply(record: SandboxRecord, config: Sandbox, terraform: Terraform): Promise<boolean> {
    const { incidents, now } = this.#deps;
    const started = Date.now();
    const stream = await this.#progressStream(record, 'apply');
    // From here Terraform may create things, so a teardown must ask Terraform even if this bot dies mid-run.
    await this.#save(record.incident, (r) => ({ ...r, workspaceCreated: true }));
    let result: TerraformRunResult;
    try {
      result = await terraform.apply(this.#target(record, config), stream.onEvent);
    } catch (err) {
      this.#deps.log.warn({ err, incident: record.incident }, 'terraform apply could not run');
      result = failedRun(err);
    }
    const progress = stream.finish(result.ok);
    const resources = {
      planned: progress.planned,
      done: progress.done,
      failed: progress.failed,
      ...(result.inState !== undefined ? { inState: result.inState } : {}),
    };
    const workspaceCreated = record.workspaceCreated || result.workspaceReady || result.stage === 'apply';
    if (result.ok) {
      const outputs = maskOutputs(result.outputs);
      const updated = await this.#save(record.incident, (r) => ({
        ...r,
        state: 'up',
        readyAt: now().toISOString(),
        resources,
        outputs,
        errors: [],
        workspaceCreated,
      }));
      await incidents.record(record.incident, {
        step: 'U',
        kind: SANDBOX_UP,
        actor: SYSTEM,
        summary: `Sandbox ${record.workspace} is up: ${result.changes ? `${result.changes.add} added, ${result.changes.change} changed` : `${progress.done} resources`} in ${formatDuration(Date.now() - started)}; destroyed at ${utc(record.expiresAt)}`,
        data: {
          workspace: record.workspace,
          service: record.service,
          outputs,
          resources,
          durationMs: Date.now() - started,
          expiresAt: record.expiresAt,
          ...(record.image ? { image: record.image } : {}),
          evidence: record.evidence,
        } satisfies SandboxEventData & Record<string, unknown>,
        stepState: 'done',
      });
      if (updated) await this.#postThread(updated, outputsMessage(updated));
      this.#refreshCard(record.incident);
      return true;
    }
    await this.#save(record.incident, (r) => ({
      ...r,
      state: 'failed',
      resources,
      errors: result.errors,
      workspaceCreated,
    }));
    await incidents.record(record.incident, {
      step: 'U',
      kind: SANDBOX_FAILED,
      actor: SYSTEM,
      summary: `Sandbox ${record.workspace}: terraform ${result.stage} failed: ${result.errors[0] ?? 'no error lines'}`,
      data: {
        workspace: record.workspace,
        service: record.service,
        phase: 'apply',
        stage: result.stage,
        errors: result.errors,
        resources,
        durationMs: Date.now() - started,
      },
    });
    const next = workspaceCreated
      ? `Fix the cause, then \`/sandbox up\` re-applies in the same workspace. \`/sandbox down\` destroys what exists (${result.inState !== undefined ? `${result.inState} resource(s) in Terraform's state now` : "whatever Terraform's state holds"}); otherwise it is destroyed automatically at ${utc(record.expiresAt)}.`
      : 'Nothing was created. Fix the module or its variables (try `terraform init && terraform validate` in that directory), then run `/sandbox up` again.';
    await this.#postThread(
      record,
      failureMessage(
        `Terraform ${result.stage} failed for sandbox \`${record.workspace}\`.`,
        result.errors,
        next,
      ),
    );
    this.#refreshCard(record.incident);
    return false;
  }

  // ---- load ---------------------------------------------------------------------------------------------------

  async #load(incidentId: string, config: Sandbox, terraform: Terraform): Promise<void> {
    const { incidents, throttle, chat, adapters, log } = this.#deps;
    const load = config.load;
    const record = await this.get(incidentId);
    if (!load || !record || record.state !== 'up') return;
    const runner = adapters.loadRunner;
    const started = Date.now();
    let summary: LoadResult;
    let ref: MessageRef | undefined;
    if (!runner) {
      summary = {
        exitCode: null,
        signal: null,
        timedOut: false,
        durationMs: 0,
        lines: 0,
        tail: [],
        error: 'no load runner is configured in this bot',
      };
    } else {
      let outputs: TerraformOutput[] = [];
      try {
        outputs = await terraform.outputs(this.#target(record, config));
      } catch (err) {
        log.warn({ err, incident: incidentId }, 'could not read outputs for the load command');
      }
      const secrets = outputs.filter((o) => o.sensitive).map((o) => outputText(o.value));
      const env: Record<string, string> = {
        ...load.env,
        SANDBOX_WORKSPACE: record.workspace,
        SANDBOX_INCIDENT: record.incident,
        SANDBOX_SERVICE: record.service,
      };
      for (const o of outputs) env[outputEnvName(o.name)] = outputText(o.value);
      const scrub = createRedactor(secrets);
      await this.#save(incidentId, (r) => ({
        ...r,
        load: {
          state: 'running',
          ok: false,
          exitCode: null,
          timedOut: false,
          durationMs: 0,
          lines: 0,
          tail: [],
        },
      }));
      ref = await this.#postThread(
        record,
        loadMessage(record.workspace, load.command, { running: true, lines: 0, tail: [] }),
      );
      let lines = 0;
      const tail: string[] = [];
      summary = await runner.run(
        {
          command: load.command,
          cwd: load.cwd ? resolve(load.cwd) : record.dir,
          env,
          timeoutMs: load.timeout,
        },
        (line) => {
          lines += 1;
          tail.push(scrub.text(line));
          if (tail.length > 15) tail.shift();
          if (!ref) return;
          const at = ref;
          const view = loadMessage(record.workspace, load.command, { running: true, lines, tail: [...tail] });
          throttle.schedule(`sandbox-load:${at.ts}`, () => chat.update(at, view));
        },
      );
      summary = { ...summary, tail: summary.tail.map((l) => scrub.text(l)) };
    }
    const ok = summary.exitCode === 0 && !summary.timedOut && !summary.error;
    const outcome = {
      ok,
      exitCode: summary.exitCode,
      timedOut: summary.timedOut,
      durationMs: summary.durationMs,
      lines: summary.lines,
      tail: summary.tail,
      ...(summary.error ? { error: summary.error } : {}),
    };
    await incidents.record(incidentId, {
      step: 'U',
      kind: SANDBOX_LOAD,
      actor: SYSTEM,
      summary: `Load against sandbox ${record.workspace} ${ok ? 'passed' : 'FAILED'}: ${load.command.join(' ')} ${summary.error ?? (summary.timedOut ? 'timed out' : `exited ${summary.exitCode ?? 'on a signal'}`)} after ${formatDuration(Date.now() - started)}`,
      data: {
        workspace: record.workspace,
        service: record.service,
        command: load.command,
        ...outcome,
      },
    });
    await this.#save(incidentId, (r) => ({
      ...r,
      load: {
        state: 'done',
        ...outcome,
      },
    }));
    const view = loadMessage(record.workspace, load.command, { running: false, ...outcome });
    if (ref) {
      const at = ref;
      throttle.schedule(`sandbox-load:${at.ts}`, () => chat.update(at, view));
    } else {
      await this.#postThread(record, view);
    }
  }

  // ---- /sandbox down, TTL and retries ----------------------------------------------------------------------

  async down(input: { incident: Incident; actor: Actor; usage?: string }): Promise<Message> {
    const { tasks } = this.#deps;
    const { incident, actor } = input;
    const record = await this.get(incident.id);
    if (!record || record.state === 'destroyed') {
      throw new UsageError(
        `${incident.id} has no sandbox to destroy${record ? ` (${record.workspace} was destroyed at ${utc(record.destroyedAt ?? '')})` : ''}. \`/sandbox up\` stands one up.`,
        input.usage,
      );
    }
    const config = this.#deps.config.services[record.service]?.sandbox;
    if (!config) {
      throw new ConfigError(
        `services.${record.service}.sandbox is no longer in cloud-safety.yml, so the bot cannot destroy ${record.workspace}. Put the section back and run \`/sandbox down\`, or by hand: \`cd ${record.dir} && terraform workspace select ${record.workspace} && terraform destroy\`.`,
      );
    }
    if (record.workspaceCreated) await this.#terraform().check(this.#target(record, config), 'destroy');
    const lease = await this.#lock(incident.id);
    if (!lease) {
      return notice(
        `A Terraform run for \`${record.workspace}\` is in progress (${record.state}). Run \`/sandbox down\` again when its thread says it finished; the automatic teardown waits for it too.`,
      );
    }
    try {
      await this.#startTeardown(record, 'command', actor);
    } catch (err) {
      await lease.release();
      throw err;
    }
    tasks.run(`sandbox-down:${incident.id}`, () =>
      this.#locked(lease, () => this.#destroy(incident.id, 'command', config, actor)),
    );
    return notice(
      `Destroying sandbox *${record.workspace}*${record.workspaceCreated ? '' : ' (nothing was created in it)'}; progress is in its thread.`,
    );
  }

  /** A teardown timer came due: the TTL ended, or a failed teardown's retry. */
  async onDue(incidentId: string): Promise<void> {
    const { store, scheduler, now } = this.#deps;
    let record = await this.get(incidentId);
    if (!record || record.state === 'destroyed') return;
    const nowMs = now().getTime();
    if (record.state === 'creating') {
      if ((await store.get(lockKey(incidentId))) !== null) {
        // The apply is still running somewhere: look again, never later than a TTL still ahead (one already
        // passed is handled by the next look, 30 s on, not by a look every scheduler tick).
        const ttl = Date.parse(record.expiresAt);
        await scheduler.at(
          SANDBOX_TTL_QUEUE,
          incidentId,
          ttl > nowMs ? Math.min(ttl, nowMs + BUSY_RETRY_MS) : nowMs + BUSY_RETRY_MS,
        );
        return;
      }
      record = (await this.#interrupted(incidentId)) ?? record;
    }
    // A retry waits for its time; an interrupted teardown is due at once; anything else at the end of its TTL.
    const dueAt =
      record.state === 'destroy_failed' && record.nextRetryAt
        ? Date.parse(record.nextRetryAt)
        : record.state === 'destroying'
          ? nowMs
          : Date.parse(record.expiresAt);
    if (dueAt > nowMs) {
      // A newer sandbox (or a retry already rescheduled) owns a later time.
      await scheduler.at(SANDBOX_TTL_QUEUE, incidentId, dueAt);
      return;
    }
    const lease = await this.#lock(incidentId);
    if (!lease) {
      await scheduler.at(SANDBOX_TTL_QUEUE, incidentId, nowMs + BUSY_RETRY_MS);
      return;
    }
    const reason: TeardownReason = record.state === 'destroy_failed' ? 'retry' : 'ttl';
    const config = this.#deps.config.services[record.service]?.sandbox;
    try {
      await this.#startTeardown(record, reason, SYSTEM);
    } catch (err) {
      await lease.release();
      await scheduler.at(SANDBOX_TTL_QUEUE, incidentId, nowMs + BUSY_RETRY_MS);
      throw err;
    }
    await this.#locked(lease, () => this.#destroy(incidentId, reason, config, SYSTEM));
  }

  async #startTeardown(record: SandboxRecord, reason: TeardownReason, actor: Actor): Promise<void> {
    const attempt = record.destroyAttempts + 1;
    await this.#deps.scheduler.at(
      SANDBOX_TTL_QUEUE,
      record.incident,
      this.#deps.now().getTime() + SAFETY_NET_MS,
    );
    await this.#deps.incidents.record(record.incident, {
      step: 'U',
      kind: SANDBOX_TEARDOWN,
      actor,
      summary:
        reason === 'command'
          ? `${actor.name} is destroying sandbox ${record.workspace}`
          : reason === 'ttl'
            ? `Sandbox ${record.workspace} reached its TTL (${utc(record.expiresAt)}): destroying it`
            : `Retrying the teardown of sandbox ${record.workspace} (attempt ${attempt})`,
      data: { workspace: record.workspace, service: record.service, reason, attempt },
    });
    await this.#save(record.incident, (r) => ({
      ...r,
      state: 'destroying',
      teardownReason: reason === 'command' ? 'command' : 'ttl',
      // The outputs describe a sandbox being torn down: never shown as current again.
      outputs: [],
    }));
    this.#refreshCard(record.incident);
  }

  async #destroy(
    incidentId: string,
    reason: TeardownReason,
    config: Sandbox | undefined,
    actor: Actor,
  ): Promise<void> {
    const { incidents, scheduler, now, chat, log } = this.#deps;
    const record = await this.get(incidentId);
    if (!record) return;
    const started = Date.now();
    let result: {
      ok: boolean;
      errors: string[];
      removed: number;
      /** What Terraform's state still holds after a failed teardown, when known. */
      remaining?: number;
      workspaceDeleted: boolean;
      workspaceExisted: boolean;
      stage: string;
    };
    // Only a run that stopped before the workspace step (a module that does not parse) skips Terraform here.
    if (!record.workspaceCreated) {
      result = {
        ok: true,
        errors: [],
        removed: 0,
        workspaceDeleted: true,
        workspaceExisted: false,
        stage: 'none',
      };
    } else {
      const stream = await this.#progressStream(record, 'destroy');
      try {
        if (!config) {
          throw new ConfigError(
            `services.${record.service}.sandbox is no longer in cloud-safety.yml; put it back, or destroy by hand: cd ${record.dir} && terraform workspace select ${record.workspace} && terraform destroy`,
          );
        }
        const terraform = this.#terraform();
        const target = this.#target(record, config);
        await terraform.check(target, 'destroy');
        const run = await terraform.destroy(target, stream.onEvent);
        stream.finish(run.ok);
        // Counted from Terraform's state before and after, not from what the bot saw happen.
        result = {
          ok: run.ok,
          errors: run.errors,
          removed: run.found - run.remaining,
          ...(run.ok || run.stage === 'destroy' ? { remaining: run.remaining } : {}),
          workspaceDeleted: run.workspaceDeleted,
          workspaceExisted: run.workspaceExisted !== false,
          stage: run.stage,
        };
      } catch (err) {
        log.warn({ err, incident: incidentId }, 'sandbox teardown could not run');
        stream.finish(false);
        result = {
          ok: false,
          // The checks speak for `up` ("Nothing was created"); here resources may well exist.
          errors: [(err as Error).message.replace(/\s*Nothing was created\.?/g, '')],
          removed: 0,
          workspaceDeleted: false,
          workspaceExisted: true,
          stage: 'check',
        };
      }
    }
    const durationMs = Date.now() - started;
    if (result.ok) {
      await this.#save(incidentId, (r) => {
        const { nextRetryAt: _drop, ...rest } = r;
        return {
          ...rest,
          state: 'destroyed',
          destroyedAt: now().toISOString(),
          errors: [],
          workspaceCreated: false,
        };
      });
      await scheduler.cancel(SANDBOX_TTL_QUEUE, incidentId);
      await incidents.record(incidentId, {
        step: 'U',
        kind: SANDBOX_DOWN,
        actor,
        summary: `Sandbox ${record.workspace} destroyed (${reason === 'command' ? 'on request' : reason === 'ttl' ? 'TTL ended' : `retry ${record.destroyAttempts + 1}`}): ${result.removed} resource(s) removed, ${result.workspaceExisted ? 'workspace deleted' : 'no workspace existed'}`,
        data: {
          workspace: record.workspace,
          service: record.service,
          reason,
          removed: result.removed,
          workspaceDeleted: result.workspaceDeleted,
          durationMs,
        },
      });
      await this.#postThread(
        record,
        notice(
          result.workspaceExisted
            ? `Sandbox \`${record.workspace}\` is destroyed: ${result.removed} resource(s) removed (all that Terraform's state held) and the workspace deleted.`
            : `Sandbox \`${record.workspace}\` is closed: Terraform has no workspace \`${record.workspace}\`, so nothing existed to destroy.`,
        ),
      );
      this.#refreshCard(incidentId);
      return;
    }
    const attempt = record.destroyAttempts + 1;
    const retryBase = config?.destroyRetry ?? 2 * 60_000;
    const nextRetryAt = new Date(now().getTime() + retryDelayMs(retryBase, attempt)).toISOString();
    const escalated = shouldEscalate(attempt);
    const updated = await this.#save(incidentId, (r) => ({
      ...r,
      state: 'destroy_failed',
      destroyAttempts: attempt,
      nextRetryAt,
      errors: result.errors,
      ...(result.remaining !== undefined ? { remaining: result.remaining } : {}),
    }));
    await scheduler.at(SANDBOX_TTL_QUEUE, incidentId, Date.parse(nextRetryAt));
    await incidents.record(incidentId, {
      step: 'U',
      kind: SANDBOX_FAILED,
      actor: SYSTEM,
      summary: `Sandbox ${record.workspace}: teardown attempt ${attempt} FAILED (${result.errors[0] ?? 'no error lines'}); retrying at ${utc(nextRetryAt)}`,
      data: {
        workspace: record.workspace,
        service: record.service,
        phase: 'destroy',
        stage: result.stage,
        errors: result.errors,
        attempt,
        nextRetryAt,
        escalated,
        durationMs,
        ...(result.remaining !== undefined ? { remaining: result.remaining } : {}),
      },
      // Step U is not done while its sandbox may still be running.
      stepState: 'in_progress',
    });
    await this.#postThread(
      record,
      failureMessage(
        `Teardown of sandbox \`${record.workspace}\` failed (attempt ${attempt}).`,
        result.errors,
        `Retrying automatically at ${utc(nextRetryAt)}. Fix the cause, then \`/sandbox down\` retries now.`,
      ),
    );
    if (escalated && updated) {
      try {
        await chat.post(record.channel, escalationMessage(updated, result.errors));
      } catch (err) {
        log.error({ err, incident: incidentId }, 'could not escalate a failed sandbox teardown');
      }
    }
    this.#refreshCard(incidentId);
  }

  /**
   * A `creating` sandbox whose run lock nobody holds: the bot running its apply died. What Terraform created by
   * then is in the workspace's state (the teardown reads it from there); the record says so and keeps its TTL.
   */
  async #interrupted(incidentId: string): Promise<SandboxRecord | null> {
    const { incidents, now } = this.#deps;
    let changed = false;
    const error =
      "The apply was interrupted: the bot stopped while Terraform was running. Whatever Terraform created by then is still in the workspace, and Terraform's state says what it is.";
    const updated = await this.#save(incidentId, (r) => {
      if (r.state !== 'creating') return r;
      changed = true;
      return { ...r, state: 'failed', interruptedAt: now().toISOString(), errors: [error] };
    });
    if (!changed || !updated) return updated;
    await incidents.record(incidentId, {
      step: 'U',
      kind: SANDBOX_FAILED,
      actor: SYSTEM,
      summary: `Sandbox ${updated.workspace}: the apply was interrupted (the bot stopped while Terraform ran)`,
      data: {
        workspace: updated.workspace,
        service: updated.service,
        phase: 'apply',
        stage: 'interrupted',
        errors: [error],
      },
    });
    await this.#postThread(
      updated,
      failureMessage(
        `The apply of sandbox \`${updated.workspace}\` was interrupted.`,
        [error],
        `\`/sandbox down\` destroys everything Terraform's state holds; otherwise that happens automatically at ${utc(updated.expiresAt)}. \`/sandbox up\` applies again in the same workspace.`,
      ),
    );
    this.#refreshCard(incidentId);
    return updated;
  }

  // ---- /sandbox status ----------------------------------------------------------------------------------------

  async status(incident: Incident, usage?: string): Promise<Message> {
    let record = await this.get(incident.id);
    if (record?.state === 'creating' && (await this.#deps.store.get(lockKey(incident.id))) === null) {
      record = (await this.#interrupted(incident.id)) ?? record;
    }
    if (!record) {
      throw new UsageError(`${incident.id} has no sandbox yet. \`/sandbox up\` stands one up.`, usage);
    }
    let link: string | undefined;
    if (record.card) {
      try {
        link = await this.#deps.chat.permalink(record.card);
      } catch {
        link = undefined;
      }
    }
    return sandboxStatus(record, this.#deps.now(), link);
  }

  // ---- chat and store helpers ---------------------------------------------------------------------------------

  /** A thread message edited as Terraform streams; `finish` publishes the final state. */
  async #progressStream(record: SandboxRecord, operation: 'apply' | 'destroy') {
    const { throttle, chat, log } = this.#deps;
    let progress: Progress = newProgress(operation);
    const ref = await this.#postThread(record, progressMessage(record.workspace, progress));
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

  async #postRoot(record: SandboxRecord, message: Message): Promise<MessageRef | undefined> {
    try {
      return await this.#deps.chat.post(record.channel, message);
    } catch (err) {
      this.#deps.log.warn({ err, incident: record.incident }, 'could not post the sandbox card');
      return undefined;
    }
  }

  async #postThread(record: SandboxRecord, message: Message): Promise<MessageRef | undefined> {
    try {
      return await this.#deps.chat.post(
        record.channel,
        message,
        record.card ? { threadTs: record.card.ts } : {},
      );
    } catch (err) {
      this.#deps.log.warn({ err, incident: record.incident }, 'could not post to the sandbox thread');
      return undefined;
    }
  }

  #refreshCard(incidentId: string): void {
    const { throttle, chat, log, now } = this.#deps;
    throttle.schedule(`sandbox-card:${incidentId}`, async () => {
      const record = await this.get(incidentId);
      if (!record?.card) return;
      try {
        await chat.update(record.card, sandboxCard(record, now()));
      } catch (err) {
        log.warn({ err, incident: incidentId }, 'could not update the sandbox card');
      }
    });
  }

  async #save(
    incidentId: string,
    change: (r: SandboxRecord) => SandboxRecord,
  ): Promise<SandboxRecord | null> {
    // The record is stored text too: whatever a Terraform line carried, it holds no secret value.
    return updateJson<SandboxRecord>(this.#deps.store, recordKey(incidentId), (current) =>
      current ? this.#deps.redactor.known(change(current)) : undefined,
    );
  }
}

function failedRun(err: unknown): TerraformRunResult {
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
