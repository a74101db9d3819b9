// Throwaway Redis Clusters (three masters) and Sentinel set-ups (master, replica, three sentinels) on free ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, startRedis, type RedisServer } from './redis.ts';

const run = promisify(execFile);

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ask(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args]);
  return stdout;
}

export interface RedisCluster {
  masters: RedisServer[];
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

/** Three masters, slots split by `redis-cli --cluster create`, no replicas; resolves once every node says ok. */
export async function startCluster(): Promise<RedisCluster> {
  const masters: RedisServer[] = [];
  for (let i = 0; i < 3; i++) {
    // The bus port is chosen too: port + 10000 may be past 65535 or taken.
    const busPort = await freePort();
    masters.push(
      await startRedis({
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-port',
          String(busPort),
        ],
      }),
    );
  }
  const addresses = masters.map((m) => `127.0.0.1:${m.port}`);
  await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
  for (const m of masters) {
    await until(`cluster node ${m.port}`, async () =>
      (await ask(m.port, 'cluster', 'info')).includes('cluster_state:ok'),
    );
  }
  return {
    masters,
    nodes: masters.map((m) => ({ host: '127.0.0.1', port: m.port })),
    async stop() {
      for (const m of masters) {
        await m.stop();
        rmSync(m.dir, { recursive: true, force: true });
      }
    },
  };
}

export interface Sentinel {
  port: number;
  process: ChildProcess;
}

export interface RedisSentinelSetup {
  name: string;
  master: RedisServer;
  replica: RedisServer;
  sentinels: Sentinel[];
  nodes: { host: string; port: number }[];
  /** The port of whichever server the sentinels call master now. */
  masterPort(): Promise<number>;
  stop(): Promise<void>;
}

/** A master with one replica, watched by three sentinels (quorum 2) that notice a dead master within a second. */
export async function startSentinels(): Promise<RedisSentinelSetup> {
  const name = 'cs-master';
  const master = await startRedis();
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] });
  await until('the replica to sync', async () =>
    (await ask(replica.port, 'info', 'replication')).includes('master_link_status:up'),
  );
  const dir = mkdtempSync(join(tmpdir(), 'cs-sentinel-'));
  const sentinels: Sentinel[] = [];
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${i}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    sentinels.push({ port, process: spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }) });
  }
  for (const s of sentinels) {
    await until(`sentinel ${s.port} to see the replica and the other sentinels`, async () => {
      const info = await ask(s.port, 'sentinel', 'master', name);
      const field = (key: string) => Number(info.split('\n')[info.split('\n').indexOf(key) + 1]);
      return field('num-slaves') >= 1 && field('num-other-sentinels') >= 2;
    });
  }
  return {
    name,
    master,
    replica,
    sentinels,
    nodes: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    async masterPort() {
      const client = new Redis({ port: sentinels[0]?.port ?? 0, host: '127.0.0.1', lazyConnect: true });
      try {
        const addr = (await client.call('SENTINEL', 'get-master-addr-by-name', name)) as string[];
        return Number(addr[1]);
      } finally {
        client.disconnect();
      }
    },
    async stop() {
      for (const s of sentinels) {
        if (s.process.exitCode === null)
          await new Promise<void>((resolve) => {
            s.process.once('exit', () => resolve());
            s.process.kill('SIGTERM');
          });
      }
      for (const server of [master, replica]) {
        await server.stop();
        rmSync(server.dir, { recursive: true, force: true });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the sentinels name a master other than `oldPort`. */
export async function awaitFailover(setup: RedisSentinelSetup, oldPort: number): Promise<number> {
  let port = oldPort;
  await until('the sentinels to promote the replica', async () => {
    port = await setup.masterPort();
    return port !== oldPort;
  });
  return port;
}
