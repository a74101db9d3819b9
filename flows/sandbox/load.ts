// Step U, load: drives the configured load runner against a sandbox that came up, and posts what it measured.
import { resolve } from 'node:path';
import type { LoadResult } from '../../src/adapters/load.ts';
import type { Terraform, TerraformOutput } from '../../src/adapters/terraform.ts';
import type { MessageRef } from '../../src/chat/chat.ts';
import { loadMessage } from './blocks.ts';
import type { Sandbox } from '../../src/config.ts';
import type { SandboxCaps } from './caps.ts';
import { formatDuration } from '../../src/duration.ts';
import { SANDBOX_LOAD } from '../../src/events.ts';
import { createRedactor } from '../../src/redact.ts';
import { SYSTEM } from '../../src/timeline.ts';
import { getRecord, outputEnvName, outputText, postThread, saveRecord, targetOf } from './record.ts';

// ---- load ---------------------------------------------------------------------------------------------------

export async function runLoad(
  deps: SandboxCaps,
  incidentId: string,
  config: Sandbox,
  terraform: Terraform,
): Promise<void> {
  const { incidents, throttle, chat, adapters, log } = deps;
  const load = config.load;
  const record = await getRecord(deps, incidentId);
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
      outputs = await terraform.outputs(targetOf(deps, record, config));
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
    await saveRecord(deps, incidentId, (r) => ({
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
    ref = await postThread(
      deps,
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
  await saveRecord(deps, incidentId, (r) => ({
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
    await postThread(deps, record, view);
  }
}
