// Runs a sandbox's synthetic-load command as a child process (no shell), streaming its lines and keeping a summary.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Metrics } from '../metrics.ts';
import { childEnv } from './terraform.ts';

export interface LoadRun {
  command: string[];
  cwd: string;
  /** Added to the bot's environment (minus the bot's own credentials). */
  env: Record<string, string>;
  timeoutMs: number;
}

export interface LoadResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
  /** Lines printed (stdout and stderr together). */
  lines: number;
  /** The last lines, for the summary. */
  tail: string[];
  /** Set when the command could not be started at all. */
  error?: string;
}

export interface LoadRunner {
  run(run: LoadRun, onLine?: (line: string) => void): Promise<LoadResult>;
}

export class ProcessLoadRunner implements LoadRunner {
  #env: NodeJS.ProcessEnv;
  #metrics: Metrics | undefined;
  #tailLines: number;

  constructor(opts: { env?: NodeJS.ProcessEnv; metrics?: Metrics; tailLines?: number } = {}) {
    this.#env = opts.env ?? process.env;
    this.#metrics = opts.metrics;
    this.#tailLines = opts.tailLines ?? 15;
  }

  run(run: LoadRun, onLine: (line: string) => void = () => {}): Promise<LoadResult> {
    const exec = () => this.#exec(run, onLine);
    return this.#metrics ? this.#metrics.timed('load', 'run', exec) : exec();
  }

  #exec(run: LoadRun, onLine: (line: string) => void): Promise<LoadResult> {
    const started = Date.now();
    const [program, ...args] = run.command;
    return new Promise((resolve) => {
      if (!program) {
        resolve({
          exitCode: null,
          signal: null,
          timedOut: false,
          durationMs: 0,
          lines: 0,
          tail: [],
          error: 'no command',
        });
        return;
      }
      const child = spawn(program, args, {
        cwd: run.cwd,
        env: childEnv(this.#env, run.env),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const tail: string[] = [];
      let lines = 0;
      let timedOut = false;
      let startError: string | undefined;
      const take = (line: string) => {
        lines += 1;
        tail.push(line.length > 300 ? `${line.slice(0, 299)}…` : line);
        if (tail.length > this.#tailLines) tail.shift();
        onLine(line);
      };
      createInterface({ input: child.stdout }).on('line', take);
      createInterface({ input: child.stderr }).on('line', take);
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }, run.timeoutMs);
      timer.unref();
      child.once('error', (err: NodeJS.ErrnoException) => {
        startError =
          err.code === 'ENOENT'
            ? `${program} was not found (check sandbox.load.command and the bot's PATH)`
            : err.message;
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          exitCode: code,
          signal,
          timedOut,
          durationMs: Date.now() - started,
          lines,
          tail,
          ...(startError ? { error: startError } : {}),
        });
      });
    });
  }
}
