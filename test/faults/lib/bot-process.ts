// The bot as a real child process (`node src/main.ts`), for faults that need a process to die.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NODE_CACHE_ENV } from '../../support/node-cache.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface BotProcess {
  child: ChildProcess;
  pid: number;
  /** Every stdout/stderr line so far (pino JSON lines in Slack modes). */
  lines: string[];
  /** Resolves with the first line matching `pattern` (already seen or still to come). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` and resolves when the process is gone. */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startBotProcess(env: NodeJS.ProcessEnv): Promise<BotProcess> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...NODE_CACHE_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    }),
  );
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        for (const w of [...waiters]) {
          if (w.pattern.test(line)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    });
  }
  const proc: BotProcess = {
    child,
    pid: child.pid ?? 0,
    lines,
    waitForLine(pattern, timeoutMs = 20_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `bot process never logged ${pattern}${exit ? ` (it exited: ${JSON.stringify(exit)})` : ''}; last lines:\n${lines.slice(-15).join('\n')}`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then(() => {
          if (waiters.some((w) => w.pattern === pattern)) {
            clearTimeout(timer);
            reject(
              new Error(`bot process exited (${JSON.stringify(exit)}):\n${lines.slice(-15).join('\n')}`),
            );
          }
        });
      });
    },
    async kill(signal) {
      if (exit) return exit;
      child.kill(signal);
      return exited;
    },
  };
  return proc;
}
