// The Terraform CLI behind a small port: init, workspace, apply, output, destroy, run non-interactively, with the
// machine-readable `-json` UI stream turned into our own progress events.
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatDuration } from '../duration.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { ProgressEvent } from '../sandbox.ts';
import { childEnv, spawnCli, type Spawned } from './terraform-process.ts';
import { checkTarget, withRun, type RunContext } from './terraform-run.ts';
import type {
  Terraform,
  TerraformDestroyResult,
  TerraformOutput,
  TerraformRunResult,
  TerraformTarget,
} from './terraform-types.ts';
import {
  cliFailure,
  countStateInstances,
  cutText,
  errorLines,
  parseUiLine,
  scrubEvent,
} from './terraform-ui.ts';

export { BOT_ONLY_ENV, childEnv } from './terraform-process.ts';
export type {
  Terraform,
  TerraformDestroyResult,
  TerraformOutput,
  TerraformRunResult,
  TerraformStage,
  TerraformTarget,
} from './terraform-types.ts';
export {
  countStateInstances,
  cutText,
  errorLines,
  formatDiagnostic,
  parseUiLine,
  type ParsedLine,
} from './terraform-ui.ts';

export interface TerraformCliOptions {
  /** The binary: a name looked up on PATH, or a path. */
  binary?: string;
  /** The environment Terraform inherits (cloud credentials live here); the bot's own secrets are removed. */
  env?: NodeJS.ProcessEnv;
  /** Where per-workspace TF_DATA_DIRs and var files live (never in the team's module directory). */
  workDir?: string;
  metrics?: Metrics;
  log?: Logger;
  /** Grace after SIGINT before SIGKILL when a run times out. */
  killGraceMs?: number;
}

/** Terraform 1.9 is the first with `init -json`. */
const MIN_MINOR = 9;

export class TerraformCli implements Terraform {
  #binary: string;
  #env: NodeJS.ProcessEnv;
  #workDir: string;
  #metrics: Metrics | undefined;
  #log: Logger | undefined;
  #killGraceMs: number;

  constructor(opts: TerraformCliOptions = {}) {
    this.#binary = opts.binary ?? 'terraform';
    this.#env = opts.env ?? process.env;
    this.#workDir = resolve(opts.workDir ?? join(tmpdir(), 'cloud-safety-terraform'));
    this.#metrics = opts.metrics;
    this.#log = opts.log;
    this.#killGraceMs = opts.killGraceMs ?? 60_000;
  }

  async check(target: TerraformTarget, purpose: 'apply' | 'destroy' = 'apply'): Promise<string> {
    checkTarget(target, this.#env, purpose);
    return this.#version();
  }

  async #version(): Promise<string> {
    const run = await this.#spawn(['version', '-json'], { cwd: process.cwd(), env: this.#baseEnv({}) });
    let version: string | undefined;
    try {
      const parsed = JSON.parse(run.stdout) as { terraform_version?: string };
      version = parsed.terraform_version;
    } catch {
      version = undefined;
    }
    if (version) {
      const [major = 0, minor = 0] = version.split('.').map(Number);
      if (major > 1 || (major === 1 && minor >= MIN_MINOR)) return version;
      throw new ConfigError(
        `Terraform ${version} is too old for the bot: it needs 1.${MIN_MINOR} or later (for \`init -json\`). Upgrade the CLI where the bot runs, or point TERRAFORM_BIN at a newer one.`,
      );
    }
    throw new ConfigError(
      `${this.#binary} ran but did not report a Terraform version (exit ${run.code}). Point TERRAFORM_BIN at the Terraform CLI (1.9 or later).`,
    );
  }

  async apply(
    target: TerraformTarget,
    onProgress: (event: ProgressEvent) => void = () => {},
  ): Promise<TerraformRunResult> {
    return this.#timed('apply', () =>
      this.#withRun(target, async (ctx) => {
        const prepared = await this.#prepare(target, ctx, onProgress);
        if (prepared) return prepared;
        onProgress({ type: 'stage', text: 'apply' });
        const run = await this.#streamJson(
          ['apply', '-auto-approve', '-input=false', '-json', ...ctx.varArgs],
          target,
          ctx,
          onProgress,
        );
        const inState = await this.#stateCount(target, ctx);
        return {
          ...run,
          stage: 'apply',
          workspaceReady: true,
          ...(typeof inState === 'number' ? { inState } : {}),
        };
      }),
    );
  }

  async outputs(target: TerraformTarget): Promise<TerraformOutput[]> {
    return this.#timed('output', () =>
      this.#withRun(target, async (ctx) => {
        const prepared = await this.#prepare(target, ctx, () => {});
        if (prepared)
          throw new Error(`terraform could not prepare ${target.workspace}: ${prepared.errors[0]}`);
        const run = await this.#spawn(['output', '-json'], { cwd: target.dir, env: ctx.env });
        if (run.code !== 0) {
          throw new Error(
            `terraform output failed: ${ctx.scrub(errorLines(run.stderr).join(' ')) || `exit ${run.code}`}`,
          );
        }
        const parsed = JSON.parse(run.stdout || '{}') as Record<
          string,
          { sensitive?: boolean; value?: unknown }
        >;
        return Object.entries(parsed).map(([name, o]) => ({
          name,
          sensitive: o.sensitive === true,
          value: o.value,
        }));
      }),
    );
  }

  async destroy(
    target: TerraformTarget,
    onProgress: (event: ProgressEvent) => void = () => {},
  ): Promise<TerraformDestroyResult> {
    return this.#timed('destroy', () =>
      this.#withRun(target, async (ctx) => {
        // What exists is what Terraform's state holds, never what the bot remembers: a bot killed mid-apply
        // never learned what Terraform had created by then.
        const prepared = await this.#prepare(target, ctx, onProgress, false);
        if (prepared) return { ...prepared, workspaceDeleted: false, found: 0, remaining: 0 };
        const empty = {
          ok: true,
          errors: [],
          warnings: [],
          changes: { add: 0, change: 0, remove: 0 },
          outputs: [],
          timedOut: false,
        };
        if (!(await this.#workspaceExists(target, ctx))) {
          return {
            ...empty,
            stage: 'destroy',
            workspaceReady: false,
            workspaceDeleted: true,
            workspaceExisted: false,
            found: 0,
            remaining: 0,
          };
        }
        const select = await this.#spawn(['workspace', 'select', '-no-color', target.workspace], {
          cwd: target.dir,
          env: ctx.env,
        });
        if (select.code !== 0) return cliFailure('workspace', select, ctx);
        const before = await this.#stateCount(target, ctx);
        if (typeof before !== 'number') return cliFailure('destroy', before, ctx);
        let run: Omit<TerraformRunResult, 'stage' | 'workspaceReady'> = empty;
        let remaining = 0;
        // An empty workspace (a plan that failed on a missing variable) needs no destroy, nor valid variables.
        if (before > 0) {
          onProgress({ type: 'stage', text: 'destroy' });
          run = await this.#streamJson(
            ['destroy', '-auto-approve', '-input=false', '-json', ...ctx.varArgs],
            target,
            ctx,
            onProgress,
          );
          const after = await this.#stateCount(target, ctx);
          remaining = typeof after === 'number' ? after : before;
          if (!run.ok || remaining > 0) {
            return {
              ...run,
              ok: false,
              stage: 'destroy',
              workspaceReady: true,
              workspaceDeleted: false,
              found: before,
              remaining,
              errors:
                run.errors.length > 0 ? run.errors : [`${remaining} resource(s) are still in the state`],
            };
          }
        }
        // `workspace delete` refuses while the state still tracks anything (no -force): nothing is forgotten.
        onProgress({ type: 'stage', text: 'delete workspace' });
        const toDefault = await this.#spawn(['workspace', 'select', '-no-color', 'default'], {
          cwd: target.dir,
          env: ctx.env,
        });
        const del =
          toDefault.code === 0
            ? await this.#spawn(['workspace', 'delete', '-no-color', target.workspace], {
                cwd: target.dir,
                env: ctx.env,
              })
            : toDefault;
        if (del.code !== 0) {
          return {
            ...run,
            ok: false,
            stage: 'delete',
            workspaceReady: true,
            errors: errorLines(del.stderr).map(ctx.scrub),
            workspaceDeleted: false,
            found: before,
            remaining,
          };
        }
        return {
          ...run,
          stage: 'destroy',
          workspaceReady: false,
          workspaceDeleted: true,
          workspaceExisted: true,
          found: before,
          remaining: 0,
        };
      }),
    );
  }

  // ---- internals ------------------------------------------------------------------------------------------

  #baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    return childEnv(this.#env, {
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      CHECKPOINT_DISABLE: '1',
      ...extra,
    });
  }

  async #timed<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    return this.#metrics ? this.#metrics.timed('terraform', operation, fn) : fn();
  }

  /** Sets up a private data dir and var file for the run, and removes the var file afterwards. */
  async #withRun<T>(target: TerraformTarget, fn: (ctx: RunContext) => Promise<T>): Promise<T> {
    return withRun(target, this.#workDir, this.#env, (extra) => this.#baseEnv(extra), fn);
  }

  /** init + workspace select -or-create; a failed result when either fails, undefined when ready. */
  async #prepare(
    target: TerraformTarget,
    ctx: RunContext,
    onProgress: (event: ProgressEvent) => void,
    create = true,
  ): Promise<TerraformRunResult | undefined> {
    onProgress({ type: 'stage', text: 'init' });
    const init = await this.#streamJson(['init', '-input=false', '-json'], target, ctx, onProgress);
    if (!init.ok) return { ...init, stage: 'init', workspaceReady: false };
    if (!create) return undefined;
    onProgress({ type: 'stage', text: 'workspace' });
    const ws = await this.#spawn(['workspace', 'select', '-or-create', '-no-color', target.workspace], {
      cwd: target.dir,
      env: ctx.env,
      ...(target.timeoutMs ? { timeoutMs: target.timeoutMs } : {}),
    });
    if (ws.code !== 0) {
      return {
        ok: false,
        stage: 'workspace',
        workspaceReady: false,
        errors: errorLines(ws.stderr).map(ctx.scrub),
        warnings: [],
        outputs: [],
        timedOut: ws.timedOut,
      };
    }
    return undefined;
  }

  async #workspaceExists(target: TerraformTarget, ctx: RunContext): Promise<boolean> {
    const list = await this.#spawn(['workspace', 'list', '-no-color'], { cwd: target.dir, env: ctx.env });
    // When the list cannot be read, assume the workspace exists: the steps after it say what is wrong.
    if (list.code !== 0) return true;
    return list.stdout
      .split('\n')
      .map((l) => l.replace('*', '').trim())
      .includes(target.workspace);
  }

  /** Resource instances in the selected workspace's state (no state at all is 0), or the failed run. */
  async #stateCount(target: TerraformTarget, ctx: RunContext): Promise<number | Spawned> {
    const pull = await this.#spawn(['state', 'pull'], { cwd: target.dir, env: ctx.env });
    if (pull.code !== 0) return pull;
    try {
      return countStateInstances(pull.stdout);
    } catch {
      return { ...pull, code: 1, stderr: 'Error: terraform state pull returned a state that is not JSON' };
    }
  }

  /** Runs a `-json` command, reporting progress as it streams; collects diagnostics, changes and outputs. */
  async #streamJson(
    args: string[],
    target: TerraformTarget,
    ctx: RunContext,
    onProgress: (event: ProgressEvent) => void,
  ): Promise<Omit<TerraformRunResult, 'stage' | 'workspaceReady'>> {
    const errors: string[] = [];
    const warnings: string[] = [];
    let outputs: TerraformOutput[] = [];
    let changes: TerraformRunResult['changes'];
    const run = await this.#spawn(args, {
      cwd: target.dir,
      env: ctx.env,
      ...(target.timeoutMs ? { timeoutMs: target.timeoutMs } : {}),
      onLine: (line) => {
        const parsed = parseUiLine(line);
        switch (parsed.kind) {
          case 'progress':
            // A resource address can carry a secret (a for_each key built from a variable): hidden here too.
            onProgress(scrubEvent(parsed.event, ctx.scrub));
            break;
          case 'diagnostic': {
            const text = cutText(ctx.scrub(parsed.text));
            (parsed.severity === 'error' ? errors : warnings).push(text);
            onProgress({ type: 'diagnostic', severity: parsed.severity, text });
            break;
          }
          case 'changes':
            if (parsed.operation === 'plan') {
              onProgress({ type: 'plan', add: parsed.add, change: parsed.change, remove: parsed.remove });
            } else {
              changes = { add: parsed.add, change: parsed.change, remove: parsed.remove };
              onProgress({ type: 'summary', operation: parsed.operation, ...changes });
            }
            break;
          case 'outputs':
            outputs = ctx.redactor.value(parsed.outputs);
            break;
          case 'other':
            break;
        }
      },
    });
    if (run.code !== 0 && errors.length === 0) {
      // Failures before the JSON stream starts (bad flags, unreadable directory) only reach stderr.
      errors.push(...errorLines(run.stderr).map(ctx.scrub));
      if (errors.length === 0) errors.push(`terraform ${args[0]} exited with status ${run.code}`);
    }
    if (run.timedOut) {
      errors.unshift(
        `terraform ${args[0]} took longer than ${formatDuration(target.timeoutMs ?? 0)} (sandbox.terraform.timeout) and was interrupted; Terraform saved what it had done`,
      );
    }
    return {
      ok: run.code === 0 && !run.timedOut,
      errors: [...new Set(errors)],
      warnings: [...new Set(warnings)],
      ...(changes ? { changes } : {}),
      outputs,
      timedOut: run.timedOut,
    };
  }

  #spawn(
    args: string[],
    opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number; onLine?: (line: string) => void },
  ): Promise<Spawned> {
    return spawnCli({ binary: this.#binary, killGraceMs: this.#killGraceMs, log: this.#log }, args, opts);
  }
}
