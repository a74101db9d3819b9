// Terraform test helpers: a private copy of a fixture module per test, and a probe that reads its state back.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { LoadRunner } from '../../src/adapters/load.ts';
import type { Terraform } from '../../src/adapters/terraform.ts';

export interface ModuleCopy {
  /** The module directory (state lands here, never in the repository). */
  dir: string;
  /** Scratch space for the adapter's data dirs and anything else the test needs. */
  work: string;
  cleanup(): void;
}

/** Copies test/fixtures/terraform/<name> into a fresh temp directory. */
export function copyModule(name: string): ModuleCopy {
  const root = mkdtempSync(join(tmpdir(), 'cs-tf-'));
  const dir = join(root, 'module');
  // Only the module's own files: state left by a console demo run in the fixture must not leak into a test.
  cpSync(resolve('test/fixtures/terraform', name), dir, {
    recursive: true,
    filter: (src) => !/terraform\.tfstate|\.terraform/.test(src),
  });
  return { dir, work: join(root, 'work'), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Runs the real terraform CLI in the copy with a data dir of its own, so it never disturbs the bot's runs. */
export function tfProbe(copy: ModuleCopy, args: string[], workspace?: string): string {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TF_DATA_DIR: join(copy.work, 'probe'),
    TF_IN_AUTOMATION: '1',
    TF_INPUT: '0',
    CHECKPOINT_DISABLE: '1',
  };
  if (workspace) env.TF_WORKSPACE = workspace;
  else delete env.TF_WORKSPACE;
  return execFileSync('terraform', args, {
    cwd: copy.dir,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface StateResource {
  type: string;
  name: string;
  instances: { index_key?: number | string; attributes: Record<string, unknown> }[];
}

/** The workspace's state as Terraform itself reads it (`terraform state pull`). */
export function pullState(copy: ModuleCopy, workspace: string): { resources: StateResource[] } {
  tfProbe(copy, ['init', '-input=false', '-no-color']);
  const text = tfProbe(copy, ['state', 'pull'], workspace);
  return text.trim() === '' ? { resources: [] } : (JSON.parse(text) as { resources: StateResource[] });
}

/** Workspace names as `terraform workspace list` prints them. */
export function listWorkspaces(copy: ModuleCopy): string[] {
  tfProbe(copy, ['init', '-input=false', '-no-color']);
  return tfProbe(copy, ['workspace', 'list', '-no-color'])
    .split('\n')
    .map((l) => l.replace('*', '').trim())
    .filter(Boolean);
}

/** Wraps adapters to count calls, so bad-input tests can prove nothing was called. */
export function countingTerraform(inner: Terraform): { terraform: Terraform; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    terraform: {
      check: (t, purpose) => (calls.push('check'), inner.check(t, purpose)),
      apply: (t, p) => (calls.push('apply'), inner.apply(t, p)),
      outputs: (t) => (calls.push('outputs'), inner.outputs(t)),
      destroy: (t, p) => (calls.push('destroy'), inner.destroy(t, p)),
    },
  };
}

export function countingLoad(inner: LoadRunner): { loadRunner: LoadRunner; calls: string[] } {
  const calls: string[] = [];
  return { calls, loadRunner: { run: (r, l) => (calls.push('run'), inner.run(r, l)) } };
}

/** Waits until `check` holds, polling; fails with `what` when it does not within `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
