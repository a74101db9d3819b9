// The Terraform CLI behind a small port: init, workspace, apply, output, destroy, run non-interactively, with the
// machine-readable `-json` UI stream turned into our own progress events.
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { formatDuration } from '../duration.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { createRedactor, type Redactor } from '../redact.ts';
import type { ProgressEvent } from '../sandbox.ts';
import { missingVariables } from './terraform-vars.ts';

/** Where and with what one run happens. */
export interface TerraformTarget {
  /** The root module directory. */
  dir: string;
  workspace: string;
  /** Plain values, written to a private .tfvars.json for the run (an undeclared name is a warning). */
  vars: Record<string, unknown>;
  /** Passed as TF_VAR_<name>: never on a command line nor on disk, and silently unused when not declared. */
  envVars: Record<string, unknown>;
  /** Secret variables: Terraform variable name -> the environment variable holding the value (TF_VAR_, hidden). */
  secretEnv: Record<string, string>;
  /** The team's own var files (absolute paths), before ours. */
  varFiles: string[];
  /** A run that takes longer is interrupted (SIGINT, so Terraform saves its state) and reported as failed. */
  timeoutMs?: number;
}

export type TerraformStage = 'init' | 'workspace' | 'apply' | 'destroy' | 'delete';

export interface TerraformOutput {
  name: string;
  sensitive: boolean;
  /** Absent for sensitive outputs in apply results; present in `outputs()` (for the load command only). */
  value?: unknown;
}

export interface TerraformRunResult {
  ok: boolean;
  /** The stage that failed, or the last one run. */
  stage: TerraformStage;
  /** True once the workspace exists (something may have been created in it). */
  workspaceReady: boolean;
  /** Terraform's own error lines, secrets hidden. */
  errors: string[];
  warnings: string[];
  changes?: { add: number; change: number; remove: number };
  outputs: TerraformOutput[];
  timedOut: boolean;
  /** After an apply: resource instances the workspace's state holds (what exists), when it could be read. */
  inState?: number;
}

export interface TerraformDestroyResult extends TerraformRunResult {
  workspaceDeleted: boolean;
  /** False when there was no such workspace at all (nothing to destroy). */
  workspaceExisted?: boolean;
  /** Resource instances the workspace's state held before the destroy. */
  found: number;
  /** Resource instances still in the state afterwards (0 on success). */
  remaining: number;
}

export interface Terraform {
  /**
   * Checks what a run needs before anything is written: the CLI runs, the directory and var files exist, the
   * secret variables' environment is set and, for an apply, every variable the module requires gets a value.
   * Returns the CLI version; throws a ConfigError saying what to fix.
   */
  check(target: TerraformTarget, purpose?: 'apply' | 'destroy'): Promise<string>;
  apply(target: TerraformTarget, onProgress?: (event: ProgressEvent) => void): Promise<TerraformRunResult>;
  /** Current outputs with their values, sensitive ones included: for the load command's environment only. */
  outputs(target: TerraformTarget): Promise<TerraformOutput[]>;
  /** Destroys everything in the workspace, then deletes the workspace. */
  destroy(
    target: TerraformTarget,
    onProgress?: (event: ProgressEvent) => void,
  ): Promise<TerraformDestroyResult>;
}

/** Environment variables the bot holds for itself: Terraform and load commands never see them. */
export const BOT_ONLY_ENV = [
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
  'PAGERDUTY_TOKEN',
  'REDIS_URL',
  'TF_WORKSPACE',
];

/** The environment for a child process: the bot's, minus its own credentials, plus `extra`. */
export function childEnv(base: NodeJS.ProcessEnv, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of BOT_ONLY_ENV) delete env[name];
  return { ...env, ...extra };
}

// ---- the -json UI stream -------------------------------------------------------------------------------------

interface UiResource {
  addr?: string;
}
interface UiDiagnostic {
  severity?: string;
  summary?: string;
  detail?: string;
  address?: string;
  range?: { filename?: string; start?: { line?: number } };
}
interface UiMessage {
  type?: string;
  '@level'?: string;
  '@message'?: string;
  change?: { resource?: UiResource; action?: string };
  hook?: { resource?: UiResource; action?: string; elapsed_seconds?: number };
  changes?: { add?: number; change?: number; remove?: number; operation?: string };
  diagnostic?: UiDiagnostic;
  outputs?: Record<string, { sensitive?: boolean; value?: unknown; action?: string }>;
}

/** One diagnostic as a line people can act on: summary, detail, the resource and file:line it points at. */
export function formatDiagnostic(d: UiDiagnostic): string {
  const detail = (d.detail ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('To silence these warnings'))
    .slice(0, 4)
    .join(' ');
  const where = [
    d.address ? `resource ${d.address}` : '',
    d.range?.filename ? `${d.range.filename}${d.range.start?.line ? `:${d.range.start.line}` : ''}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${(d.summary ?? 'error').split('\n')[0]}${detail ? `: ${detail}` : ''}${where ? ` (${where})` : ''}`;
}

/**
 * Shortens a diagnostic for chat after its secrets were hidden (cutting first could leave half a secret), at the
 * end of a sentence when one ends late enough, else at a word, and says that it was cut.
 */
export function cutText(text: string, max = 600): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max - 1);
  const sentence = head.lastIndexOf('. ');
  if (sentence >= max / 2) return `${head.slice(0, sentence + 1)} […]`;
  const word = head.lastIndexOf(' ');
  return `${word >= max / 2 ? head.slice(0, word) : head}…`;
}

export type ParsedLine =
  | { kind: 'progress'; event: ProgressEvent }
  | { kind: 'diagnostic'; severity: 'error' | 'warning'; text: string }
  | { kind: 'outputs'; outputs: TerraformOutput[] }
  | { kind: 'changes'; operation: string; add: number; change: number; remove: number }
  | { kind: 'other' };

/** Parses one line of `-json` output into our terms; anything unknown is `other` (the format only grows). */
export function parseUiLine(line: string): ParsedLine {
  let msg: UiMessage;
  try {
    msg = JSON.parse(line) as UiMessage;
  } catch {
    return { kind: 'other' };
  }
  if (msg === null || typeof msg !== 'object') return { kind: 'other' };
  const address = msg.hook?.resource?.addr ?? msg.change?.resource?.addr ?? '';
  const action = msg.hook?.action ?? msg.change?.action ?? '';
  const elapsedSeconds = msg.hook?.elapsed_seconds ?? 0;
  switch (msg.type) {
    case 'planned_change':
      return { kind: 'progress', event: { type: 'planned', address, action } };
    case 'apply_start':
      return { kind: 'progress', event: { type: 'start', address, action } };
    case 'apply_progress':
      return { kind: 'progress', event: { type: 'still', address, action, elapsedSeconds } };
    case 'apply_complete':
      return { kind: 'progress', event: { type: 'complete', address, action, elapsedSeconds } };
    case 'apply_errored':
      return { kind: 'progress', event: { type: 'errored', address, action, elapsedSeconds } };
    case 'change_summary': {
      const c = msg.changes ?? {};
      return {
        kind: 'changes',
        operation: c.operation ?? 'apply',
        add: c.add ?? 0,
        change: c.change ?? 0,
        remove: c.remove ?? 0,
      };
    }
    case 'diagnostic': {
      const d = msg.diagnostic ?? {};
      return {
        kind: 'diagnostic',
        severity: d.severity === 'warning' ? 'warning' : 'error',
        text: formatDiagnostic(d),
      };
    }
    case 'outputs': {
      const outputs = Object.entries(msg.outputs ?? {})
        // Planned outputs carry `action`, applied ones carry the value (or nothing when sensitive).
        .filter(([, o]) => o.action === undefined)
        .map(([name, o]) => ({
          name,
          sensitive: o.sensitive === true,
          ...(o.sensitive === true || o.value === undefined ? {} : { value: o.value }),
        }));
      return outputs.length > 0 ? { kind: 'outputs', outputs } : { kind: 'other' };
    }
    default:
      return { kind: 'other' };
  }
}

// ---- the CLI ------------------------------------------------------------------------------------------------

interface Spawned {
  code: number | null;
  timedOut: boolean;
  stderr: string;
  stdout: string;
}

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

// eslint-disable-next-line no-control-regex -- ANSI colour codes start with ESC
const ANSI = /\u001b\[[0-9;]*m/g;

/** Error lines from a plain-text Terraform command's stderr: from the first "Error:" on, without blank lines. */
export function errorLines(stderr: string, max = 15): string[] {
  const lines = stderr.replace(ANSI, '').split('\n');
  const first = lines.findIndex((l) => /^\s*(│\s*)?Error:/.test(l));
  return lines
    .slice(first >= 0 ? first : 0)
    .map((l) => l.replace(/^[\s│╷╵]+/, '').trimEnd())
    .filter((l) => l !== '')
    .slice(0, max);
}

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
    if (!isDirectory(target.dir)) {
      throw new ConfigError(
        `The Terraform directory ${target.dir} does not exist on the bot's host. Fix sandbox.terraform.dir in cloud-safety.yml (relative paths start at the bot's working directory ${process.cwd()}). Nothing was created.`,
      );
    }
    for (const file of target.varFiles) {
      if (!existsSync(file)) {
        throw new ConfigError(
          `The var file ${file} (sandbox.terraform.varFile, relative to the Terraform directory) does not exist. Fix the path or remove it. Nothing was created.`,
        );
      }
    }
    for (const [name, envName] of Object.entries(target.secretEnv)) {
      if (!this.#env[envName]) {
        throw new ConfigError(
          `The Terraform variable ${name} comes from the environment variable ${envName} (sandbox.terraform.secretVars), which is not set where the bot runs. Export it and restart the bot. Nothing was created.`,
        );
      }
    }
    if (purpose === 'apply') {
      // Found here, a missing variable costs nothing; found by `apply`, it left an empty workspace behind.
      const missing = missingVariables(target.dir, {
        names: [
          ...Object.keys(target.vars),
          ...Object.keys(target.envVars),
          ...Object.keys(target.secretEnv),
        ],
        varFiles: target.varFiles,
        env: this.#env,
      });
      if (missing.includes('image')) {
        throw new ConfigError(
          `The module in ${target.dir} requires \`image\`, which the bot sets from the latest /telemetry snapshot, and there is none yet. Run \`/telemetry\` first, or give the variable a default in the module, then run \`/sandbox up\` again. Nothing was created.`,
        );
      }
      if (missing.length > 0) {
        throw new ConfigError(
          `The module in ${target.dir} requires ${missing.map((n) => `\`${n}\``).join(', ')}, which the bot does not pass. Give ${missing.length > 1 ? 'them' : 'it'} a value in sandbox.terraform.vars (or secretVars, or varFile), or a default in the module, then run \`/sandbox up\` again. Nothing was created.`,
        );
      }
    }
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
        if (select.code !== 0) return this.#cliFailure('workspace', select, ctx);
        const before = await this.#stateCount(target, ctx);
        if (typeof before !== 'number') return this.#cliFailure('destroy', before, ctx);
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
    const dirHash = createHash('sha256').update(resolve(target.dir)).digest('hex').slice(0, 12);
    // Per-workspace data dir: `workspace select` writes the selection there, so runs for two incidents in the
    // same module directory (or on two replicas sharing a volume) never switch each other's workspace.
    const dataDir = join(this.#workDir, dirHash, target.workspace);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const tfVars: Record<string, string> = {};
    for (const [name, value] of Object.entries(target.envVars)) {
      tfVars[`TF_VAR_${name}`] = typeof value === 'string' ? value : JSON.stringify(value);
    }
    const secrets: string[] = [];
    for (const [name, envName] of Object.entries(target.secretEnv)) {
      const value = this.#env[envName];
      if (!value) {
        throw new ConfigError(
          `The Terraform variable ${name} comes from the environment variable ${envName}, which is not set where the bot runs. Export it and restart the bot.`,
        );
      }
      tfVars[`TF_VAR_${name}`] = value;
      secrets.push(value);
    }
    const varArgs = target.varFiles.map((f) => `-var-file=${f}`);
    let varFile: string | undefined;
    if (Object.keys(target.vars).length > 0) {
      varFile = join(dataDir, `run-${randomUUID().slice(0, 8)}.tfvars.json`);
      writeFileSync(varFile, JSON.stringify(target.vars), { mode: 0o600 });
      varArgs.push(`-var-file=${varFile}`);
    }
    const redactor = createRedactor(secrets);
    const ctx: RunContext = {
      env: this.#baseEnv({ TF_DATA_DIR: dataDir, ...tfVars }),
      varArgs,
      scrub: (text) => redactor.text(text),
      redactor,
    };
    try {
      return await fn(ctx);
    } finally {
      if (varFile) rmSync(varFile, { force: true });
    }
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

  #cliFailure(stage: TerraformStage, run: Spawned, ctx: RunContext): TerraformDestroyResult {
    return {
      ok: false,
      stage,
      workspaceReady: true,
      errors: errorLines(run.stderr).map(ctx.scrub),
      warnings: [],
      outputs: [],
      timedOut: run.timedOut,
      workspaceDeleted: false,
      found: 0,
      remaining: 0,
    };
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
    return new Promise((resolvePromise, reject) => {
      const child = spawn(this.#binary, args, {
        cwd: opts.cwd,
        env: opts.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      let killer: NodeJS.Timeout | undefined;
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGINT');
            killer = setTimeout(() => child.kill('SIGKILL'), this.#killGraceMs);
            killer.unref();
          }, opts.timeoutMs)
        : undefined;
      timer?.unref();
      if (opts.onLine) {
        const onLine = opts.onLine;
        createInterface({ input: child.stdout }).on('line', (line) => {
          try {
            onLine(line);
          } catch (err) {
            this.#log?.warn({ err }, 'terraform progress handler failed');
          }
        });
      } else {
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          if (stdout.length < 4_000_000) stdout += chunk;
        });
      }
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        if (stderr.length < 200_000) stderr += chunk;
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        if (err.code === 'ENOENT' || err.code === 'EACCES') {
          reject(
            new ConfigError(
              `The Terraform CLI (${this.#binary}) is not on the bot's PATH. Install Terraform 1.9 or later where the bot runs, or set TERRAFORM_BIN to its full path, then run the command again. Nothing was created.`,
            ),
          );
        } else {
          reject(err);
        }
      });
      child.once('close', (code) => {
        if (timer) clearTimeout(timer);
        if (killer) clearTimeout(killer);
        this.#log?.debug({ command: args[0], code, timedOut }, 'terraform finished');
        resolvePromise({ code, timedOut, stderr, stdout });
      });
    });
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function scrubEvent(event: ProgressEvent, scrub: (text: string) => string): ProgressEvent {
  switch (event.type) {
    case 'planned':
    case 'start':
    case 'still':
    case 'complete':
    case 'errored':
      return { ...event, address: scrub(event.address) };
    case 'diagnostic':
    case 'stage':
      return { ...event, text: scrub(event.text) };
    default:
      return event;
  }
}

/** Resource instances a pulled state holds (managed resources only: data sources cost nothing). */
export function countStateInstances(stateJson: string): number {
  if (stateJson.trim() === '') return 0;
  const state = JSON.parse(stateJson) as { resources?: { mode?: string; instances?: unknown[] }[] };
  return (state.resources ?? [])
    .filter((r) => r.mode !== 'data')
    .reduce((n, r) => n + (r.instances?.length ?? 0), 0);
}

interface RunContext {
  env: NodeJS.ProcessEnv;
  varArgs: string[];
  scrub: (text: string) => string;
  redactor: Redactor;
}
