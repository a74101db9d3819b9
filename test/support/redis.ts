// A throwaway redis-server on a free port for the test run (or TEST_REDIS_URL), and isolated stores on it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/store/redis.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess | undefined;
  stop(): Promise<void>;
  /** Starts it again on the same port and directory (AOF keeps the data). */
  restart(): Promise<void>;
}

async function waitForPing(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      client.disconnect();
      return;
    } catch {
      client.disconnect();
      if (Date.now() > deadline) throw new Error(`redis at ${url} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Starts redis-server from the local binary; `appendonly` for tests that restart it and expect the data back. */
export async function startRedis(
  opts: { appendonly?: boolean; args?: string[]; port?: number } = {},
): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'cs-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    opts.appendonly ? 'yes' : 'no',
    ...(opts.args ?? []),
  ];
  const server: RedisServer = {
    url,
    port,
    dir,
    process: undefined,
    async stop() {
      const child = server.process;
      if (!child || child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      server.process = undefined;
    },
    async restart() {
      await server.stop();
      server.process = spawn('redis-server', args, { stdio: 'ignore' });
      await waitForPing(url);
    },
  };
  server.process = spawn('redis-server', args, { stdio: 'ignore' });
  await waitForPing(url);
  return server;
}

let shared: RedisServer | undefined;

/** The run's shared Redis URL: TEST_REDIS_URL, or a server started once on first use. */
export async function testRedisUrl(): Promise<string> {
  if (process.env.TEST_REDIS_URL) return process.env.TEST_REDIS_URL;
  shared ??= await startRedis();
  return shared.url;
}

export async function stopSharedRedis(): Promise<void> {
  if (shared) {
    await shared.stop();
    rmSync(shared.dir, { recursive: true, force: true });
    shared = undefined;
  }
}

/** A RedisStore whose keys live under a prefix of their own, so tests never see each other's data. */
export async function isolatedRedisStore(): Promise<RedisStore> {
  return new RedisStore(await testRedisUrl(), { prefix: `test:${randomUUID().slice(0, 8)}:` });
}
