// The Slack stub in a process of its own, so the server it stands for does not spend the measured process's CPU.
// Prints its URL on the first line; on a line "calls" on stdin, prints the calls per method as JSON.
import { createInterface } from 'node:readline';
import { spawn } from 'node:child_process';
import { startSlackStub, type SlackStub } from './slack-stub.ts';

export interface RemoteSlackStub {
  url: string;
  apiUrl: string;
  calls(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/** Starts this file as a child process and talks to it over stdin/stdout. */
export async function startRemoteSlackStub(): Promise<RemoteSlackStub> {
  const child = spawn(process.execPath, ['bench/slack-stub-process.ts'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  const url = String(first.value ?? '');
  if (!url.startsWith('http')) throw new Error(`slack stub process did not start: ${url}`);
  return {
    url,
    apiUrl: `${url}/api/`,
    async calls() {
      child.stdin.write('calls\n');
      const line = await lines.next();
      return new Map(Object.entries(JSON.parse(String(line.value ?? '{}')) as Record<string, number>));
    },
    async close() {
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      });
    },
  };
}

if (import.meta.main) {
  const stub: SlackStub = await startSlackStub();
  process.stdout.write(`${stub.url}\n`);
  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    if (line.trim() === 'calls') process.stdout.write(`${JSON.stringify(Object.fromEntries(stub.calls))}\n`);
  });
  input.on('close', () => void stub.close().then(() => process.exit(0)));
}
