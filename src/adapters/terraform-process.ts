// Running the Terraform CLI as a child process: its environment, output capture and timeout.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';

/** Environment variables the bot holds for itself: Terraform and load commands never see them. */
export const BOT_ONLY_ENV = [
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
  'PAGERDUTY_TOKEN',
  'REDIS_URL',
  'REDIS_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
  'TF_WORKSPACE',
];

/** The environment for a child process: the bot's, minus its own credentials, plus `extra`. */
export function childEnv(base: NodeJS.ProcessEnv, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of BOT_ONLY_ENV) delete env[name];
  return { ...env, ...extra };
}

export interface Spawned {
  code: number | null;
  timedOut: boolean;
  stderr: string;
  stdout: string;
}

/** The binary to run, how long to wait between SIGINT and SIGKILL, and where to log. */
export interface CliProcess {
  binary: string;
  killGraceMs: number;
  log: Logger | undefined;
}

/** Runs one Terraform command; stdout is handed line by line to `onLine` when given, else collected. */
export function spawnCli(
  cli: CliProcess,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number; onLine?: (line: string) => void },
): Promise<Spawned> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cli.binary, args, {
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
          killer = setTimeout(() => child.kill('SIGKILL'), cli.killGraceMs);
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
          cli.log?.warn({ err }, 'terraform progress handler failed');
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
            `The Terraform CLI (${cli.binary}) is not on the bot's PATH. Install Terraform 1.9 or later where the bot runs, or set TERRAFORM_BIN to its full path, then run the command again. Nothing was created.`,
          ),
        );
      } else {
        reject(err);
      }
    });
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      if (killer) clearTimeout(killer);
      cli.log?.debug({ command: args[0], code, timedOut }, 'terraform finished');
      resolvePromise({ code, timedOut, stderr, stdout });
    });
  });
}
