// Before and around a Terraform run: checking the target can run, and its private data dir, variables and secrets.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import { createRedactor, type Redactor } from '../redact.ts';
import type { TerraformTarget } from './terraform-types.ts';
import { missingVariables } from './terraform-vars.ts';

/** Throws a ConfigError when the target cannot run where the bot runs (directory, var files, secrets, variables). */
export function checkTarget(
  target: TerraformTarget,
  env: NodeJS.ProcessEnv,
  purpose: 'apply' | 'destroy',
): void {
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
    if (!env[envName]) {
      throw new ConfigError(
        `The Terraform variable ${name} comes from the environment variable ${envName} (sandbox.terraform.secretVars), which is not set where the bot runs. Export it and restart the bot. Nothing was created.`,
      );
    }
  }
  if (purpose === 'apply') {
    // Found here, a missing variable costs nothing; found by `apply`, it left an empty workspace behind.
    const missing = missingVariables(target.dir, {
      names: [...Object.keys(target.vars), ...Object.keys(target.envVars), ...Object.keys(target.secretEnv)],
      varFiles: target.varFiles,
      env: env,
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
}

/** Sets up a private data dir and var file for the run, and removes the var file afterwards. */
export async function withRun<T>(
  target: TerraformTarget,
  workDir: string,
  env: NodeJS.ProcessEnv,
  baseEnv: (extra: Record<string, string>) => NodeJS.ProcessEnv,
  fn: (ctx: RunContext) => Promise<T>,
): Promise<T> {
  const dirHash = createHash('sha256').update(resolve(target.dir)).digest('hex').slice(0, 12);
  // Per-workspace data dir: `workspace select` writes the selection there, so runs for two incidents in the
  // same module directory (or on two replicas sharing a volume) never switch each other's workspace.
  const dataDir = join(workDir, dirHash, target.workspace);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const tfVars: Record<string, string> = {};
  for (const [name, value] of Object.entries(target.envVars)) {
    tfVars[`TF_VAR_${name}`] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  const secrets: string[] = [];
  for (const [name, envName] of Object.entries(target.secretEnv)) {
    const value = env[envName];
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
    env: baseEnv({ TF_DATA_DIR: dataDir, ...tfVars }),
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

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export interface RunContext {
  env: NodeJS.ProcessEnv;
  varArgs: string[];
  scrub: (text: string) => string;
  redactor: Redactor;
}
