// Step U, `/sandbox up`: checks, records and locks the run, then applies the team's Terraform and reports its outputs.
import type { Terraform, TerraformRunResult } from '../../src/adapters/terraform.ts';
import type { Message } from '../../src/chat/chat.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import { failureMessage, outputsMessage, sandboxCard } from './blocks.ts';
import { utc } from '../../src/chat/blocks/kit.ts';
import type { Sandbox } from '../../src/config.ts';
import type { SandboxCaps } from './caps.ts';
import { formatDuration } from '../../src/duration.ts';
import { SANDBOX_FAILED, SANDBOX_REQUESTED, SANDBOX_UP, type SandboxEventData } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { sandboxInputs, workspaceName, type SandboxRecord } from '../../src/sandbox.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';
import { runLoad } from './load.ts';
import {
  BUSY_RETRY_MS,
  SANDBOX_TTL_QUEUE,
  failedRun,
  getRecord,
  lockKey,
  locked,
  maskOutputs,
  postRoot,
  postThread,
  progressStream,
  recordKey,
  refreshCard,
  sandboxConfig,
  saveRecord,
  takeRunLock,
  targetOf,
  terraformOf,
} from './record.ts';

// ---- /sandbox up -------------------------------------------------------------------------------------------

export async function sandboxUp(
  deps: SandboxCaps,
  input: { incident: Incident; service: string; actor: Actor; usage?: string },
): Promise<Message> {
  const { store, incidents, timeline, scheduler, tasks, now } = deps;
  const { incident, service, actor } = input;
  const config = sandboxConfig(deps, service, input.usage);
  const terraform = terraformOf(deps);
  const workspace = workspaceName(config.terraform.workspacePrefix, incident.id);
  const inputs = sandboxInputs(await timeline.read(incident.id));
  const target = targetOf(deps, { incident: incident.id, service, workspace, ...inputs }, config);

  const existing = await getRecord(deps, incident.id);
  const busy = alreadyThere(existing, (await store.get(lockKey(incident.id))) !== null);
  if (busy) return busy;
  // Everything the run needs is checked before anything is written or locked.
  const version = await terraform.check(target);
  const lease = await takeRunLock(deps, incident.id);
  if (!lease) {
    return notice(
      `A Terraform run for \`${workspace}\` is already in progress (another replica or another person). Follow its thread, then \`/sandbox status\`.`,
    );
  }
  let record: SandboxRecord;
  try {
    // Re-read under the lock: another replica may have finished an `up` between our read and the lock.
    const current = await getRecord(deps, incident.id);
    const raced = alreadyThere(current, false);
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
    await store.set(recordKey(incident.id), JSON.stringify(deps.redactor.known(record)));
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
    const card = await postRoot(deps, record, sandboxCard(record, now()));
    if (card) record = (await saveRecord(deps, incident.id, (r) => ({ ...r, card }))) ?? record;
  } else {
    refreshCard(deps, incident.id);
  }
  tasks.run(`sandbox-up:${incident.id}`, async () => {
    const ok = await locked(lease, () => applyRun(deps, record, config, terraform));
    if (ok && config.load) await runLoad(deps, incident.id, config, terraform);
  });
  return notice(
    `Standing up sandbox *${workspace}* for *${service}* from \`${config.terraform.dir}\`${record.image ? ` with image \`${record.image}\`` : ' without an image (no `/telemetry` snapshot yet, so the module default applies)'} and ${record.evidence.length} evidence artifact(s). Progress is in the thread under the sandbox card. It is destroyed automatically at ${utc(record.expiresAt)} (TTL ${formatDuration(config.ttl)}), or now with \`/sandbox down\`.`,
  );
}

/**
 * A reply when a sandbox already exists and a new `up` must not start; undefined when one may. `running` says
 * whether someone holds the run lock: a `creating` sandbox without one was interrupted and may be re-applied.
 */
export function alreadyThere(existing: SandboxRecord | null, running: boolean): Message | undefined {
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

export async function applyRun(
  deps: SandboxCaps,
  record: SandboxRecord,
  config: Sandbox,
  terraform: Terraform,
): Promise<boolean> {
  const { incidents, now } = deps;
  const started = Date.now();
  const stream = await progressStream(deps, record, 'apply');
  // From here Terraform may create things, so a teardown must ask Terraform even if this bot dies mid-run.
  await saveRecord(deps, record.incident, (r) => ({ ...r, workspaceCreated: true }));
  let result: TerraformRunResult;
  try {
    result = await terraform.apply(targetOf(deps, record, config), stream.onEvent);
  } catch (err) {
    deps.log.warn({ err, incident: record.incident }, 'terraform apply could not run');
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
    const updated = await saveRecord(deps, record.incident, (r) => ({
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
    if (updated) await postThread(deps, updated, outputsMessage(updated));
    refreshCard(deps, record.incident);
    return true;
  }
  await saveRecord(deps, record.incident, (r) => ({
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
  await postThread(
    deps,
    record,
    failureMessage(
      `Terraform ${result.stage} failed for sandbox \`${record.workspace}\`.`,
      result.errors,
      next,
    ),
  );
  refreshCard(deps, record.incident);
  return false;
}
