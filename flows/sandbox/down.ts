// Step U, teardown: `/sandbox down`, the TTL timer and retries of a failed destroy, and interrupted applies.
import type { Message } from '../../src/chat/chat.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import { escalationMessage, failureMessage } from './blocks.ts';
import { utc } from '../../src/chat/blocks/kit.ts';
import type { Sandbox } from '../../src/config.ts';
import type { SandboxCaps } from './caps.ts';
import { ConfigError, UsageError } from '../../src/errors.ts';
import { SANDBOX_DOWN, SANDBOX_FAILED, SANDBOX_TEARDOWN } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { retryDelayMs, shouldEscalate, type SandboxRecord } from '../../src/sandbox.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';
import type { TeardownReason } from './record.ts';
import {
  BUSY_RETRY_MS,
  SAFETY_NET_MS,
  SANDBOX_TTL_QUEUE,
  getRecord,
  lockKey,
  locked,
  postThread,
  progressStream,
  refreshCard,
  saveRecord,
  takeRunLock,
  targetOf,
  terraformOf,
} from './record.ts';

// ---- /sandbox down, TTL and retries ----------------------------------------------------------------------

export async function sandboxDown(
  deps: SandboxCaps,
  input: { incident: Incident; actor: Actor; usage?: string },
): Promise<Message> {
  const { tasks } = deps;
  const { incident, actor } = input;
  const record = await getRecord(deps, incident.id);
  if (!record || record.state === 'destroyed') {
    throw new UsageError(
      `${incident.id} has no sandbox to destroy${record ? ` (${record.workspace} was destroyed at ${utc(record.destroyedAt ?? '')})` : ''}. \`/sandbox up\` stands one up.`,
      input.usage,
    );
  }
  const config = deps.config.services[record.service]?.sandbox;
  if (!config) {
    throw new ConfigError(
      `services.${record.service}.sandbox is no longer in cloud-safety.yml, so the bot cannot destroy ${record.workspace}. Put the section back and run \`/sandbox down\`, or by hand: \`cd ${record.dir} && terraform workspace select ${record.workspace} && terraform destroy\`.`,
    );
  }
  if (record.workspaceCreated) await terraformOf(deps).check(targetOf(deps, record, config), 'destroy');
  const lease = await takeRunLock(deps, incident.id);
  if (!lease) {
    return notice(
      `A Terraform run for \`${record.workspace}\` is in progress (${record.state}). Run \`/sandbox down\` again when its thread says it finished; the automatic teardown waits for it too.`,
    );
  }
  try {
    await startTeardown(deps, record, 'command', actor);
  } catch (err) {
    await lease.release();
    throw err;
  }
  tasks.run(`sandbox-down:${incident.id}`, () =>
    locked(lease, () => destroyRun(deps, incident.id, 'command', config, actor)),
  );
  return notice(
    `Destroying sandbox *${record.workspace}*${record.workspaceCreated ? '' : ' (nothing was created in it)'}; progress is in its thread.`,
  );
}

/** A teardown timer came due: the TTL ended, or a failed teardown's retry. */
export async function onTeardownDue(deps: SandboxCaps, incidentId: string): Promise<void> {
  const { store, scheduler, now } = deps;
  let record = await getRecord(deps, incidentId);
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
    record = (await interrupted(deps, incidentId)) ?? record;
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
  const lease = await takeRunLock(deps, incidentId);
  if (!lease) {
    await scheduler.at(SANDBOX_TTL_QUEUE, incidentId, nowMs + BUSY_RETRY_MS);
    return;
  }
  const reason: TeardownReason = record.state === 'destroy_failed' ? 'retry' : 'ttl';
  const config = deps.config.services[record.service]?.sandbox;
  try {
    await startTeardown(deps, record, reason, SYSTEM);
  } catch (err) {
    await lease.release();
    await scheduler.at(SANDBOX_TTL_QUEUE, incidentId, nowMs + BUSY_RETRY_MS);
    throw err;
  }
  await locked(lease, () => destroyRun(deps, incidentId, reason, config, SYSTEM));
}

export async function startTeardown(
  deps: SandboxCaps,
  record: SandboxRecord,
  reason: TeardownReason,
  actor: Actor,
): Promise<void> {
  const attempt = record.destroyAttempts + 1;
  await deps.scheduler.at(SANDBOX_TTL_QUEUE, record.incident, deps.now().getTime() + SAFETY_NET_MS);
  await deps.incidents.record(record.incident, {
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
  await saveRecord(deps, record.incident, (r) => ({
    ...r,
    state: 'destroying',
    teardownReason: reason === 'command' ? 'command' : 'ttl',
    // The outputs describe a sandbox being torn down: never shown as current again.
    outputs: [],
  }));
  refreshCard(deps, record.incident);
}

export async function destroyRun(
  deps: SandboxCaps,
  incidentId: string,
  reason: TeardownReason,
  config: Sandbox | undefined,
  actor: Actor,
): Promise<void> {
  const { incidents, scheduler, now, chat, log } = deps;
  const record = await getRecord(deps, incidentId);
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
    const stream = await progressStream(deps, record, 'destroy');
    try {
      if (!config) {
        throw new ConfigError(
          `services.${record.service}.sandbox is no longer in cloud-safety.yml; put it back, or destroy by hand: cd ${record.dir} && terraform workspace select ${record.workspace} && terraform destroy`,
        );
      }
      const terraform = terraformOf(deps);
      const target = targetOf(deps, record, config);
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
    await saveRecord(deps, incidentId, (r) => {
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
    await postThread(
      deps,
      record,
      notice(
        result.workspaceExisted
          ? `Sandbox \`${record.workspace}\` is destroyed: ${result.removed} resource(s) removed (all that Terraform's state held) and the workspace deleted.`
          : `Sandbox \`${record.workspace}\` is closed: Terraform has no workspace \`${record.workspace}\`, so nothing existed to destroy.`,
      ),
    );
    refreshCard(deps, incidentId);
    return;
  }
  const attempt = record.destroyAttempts + 1;
  const retryBase = config?.destroyRetry ?? 2 * 60_000;
  const nextRetryAt = new Date(now().getTime() + retryDelayMs(retryBase, attempt)).toISOString();
  const escalated = shouldEscalate(attempt);
  const updated = await saveRecord(deps, incidentId, (r) => ({
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
  await postThread(
    deps,
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
  refreshCard(deps, incidentId);
}

/**
 * A `creating` sandbox whose run lock nobody holds: the bot running its apply died. What Terraform created by
 * then is in the workspace's state (the teardown reads it from there); the record says so and keeps its TTL.
 */
export async function interrupted(deps: SandboxCaps, incidentId: string): Promise<SandboxRecord | null> {
  const { incidents, now } = deps;
  let changed = false;
  const error =
    "The apply was interrupted: the bot stopped while Terraform was running. Whatever Terraform created by then is still in the workspace, and Terraform's state says what it is.";
  const updated = await saveRecord(deps, incidentId, (r) => {
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
  await postThread(
    deps,
    updated,
    failureMessage(
      `The apply of sandbox \`${updated.workspace}\` was interrupted.`,
      [error],
      `\`/sandbox down\` destroys everything Terraform's state holds; otherwise that happens automatically at ${utc(updated.expiresAt)}. \`/sandbox up\` applies again in the same workspace.`,
    ),
  );
  refreshCard(deps, incidentId);
  return updated;
}
