// Paired A/B of the slash-command ack: a bare Bolt app, the bot of another checkout (OLD_ROOT) and this checkout's bot,
// all in this process on one Redis and one Slack stand-in, loaded one at a time in rotating order. Per side and round:
// p50/p99 of the ack, req/s, CPU per request of this process, of Redis and of the stand-in (/proc), GC time and the
// event-loop delay. On a shared machine the wall-clock figures swing with the other load; CPU per request much less.
// Usage: node bench/ack-ab.ts   (env: OLD_ROOT=/work/main ROUNDS=6 PER_ROUND=2000 CONCURRENCY=50 NO_BARE=1)
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import bolt from '@slack/bolt';
import { summarize } from './lib.ts';
import { startRemoteSlackStub } from './slack-stub-process.ts';
import { startRedis } from '../test/support/redis.ts';
import type * as StoreModule from '../src/store/redis.ts';
import type * as BotModule from '../test/support/bot.ts';
import type * as SlackAppModule from '../test/support/slack-app.ts';

const exec = promisify(execFile);
const OLD_ROOT = process.env.OLD_ROOT ?? '/work/main';
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const PER_ROUND = Number(process.env.PER_ROUND ?? 2000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 50);
const INCIDENTS = 100;

const redis = await startRedis();
const stub = await startRemoteSlackStub();
const SECRET = 'test-signing-secret-5f2b8c';

interface Side {
  name: string;
  port: number;
  idle(): Promise<void>;
  stop(): Promise<void>;
}

async function botSide(name: string, root: string): Promise<Side> {
  // The other checkout's modules load beside ours (their own paths, their own module instances).
  const { RedisStore } = (await import(`${root}/src/store/redis.ts`)) as typeof StoreModule;
  const { testConfig } = (await import(`${root}/test/support/bot.ts`)) as typeof BotModule;
  const { startHttpBot } = (await import(`${root}/test/support/slack-app.ts`)) as typeof SlackAppModule;
  const store = new RedisStore(redis.url, { prefix: `ab-${name}:` });
  const app = await startHttpBot({
    config: testConfig(),
    store,
    apiUrl: stub.apiUrl,
    logLevel: 'silent',
    editIntervalMs: 1000,
  });
  for (let k = 0; k < INCIDENTS; k++) {
    await app.bot.handleCommand({
      command: '/incident',
      text: `declare payments sev=2 incident number ${k}`,
      user: { id: 'U0ALICE', name: 'alice' },
      channel: `C0BENCH${k}`,
      respond: async () => {},
    });
  }
  await app.bot.idle();
  return {
    name,
    port: app.transport.port,
    idle: () => app.bot.idle(),
    stop: async () => {
      await app.stop();
      await store.close();
    },
  };
}

async function bareSide(): Promise<Side> {
  const bare = new bolt.App({
    token: 'xoxb-1111-2222-test-bot-token',
    receiver: new bolt.HTTPReceiver({ signingSecret: SECRET, endpoints: '/slack/events' }),
    clientOptions: { slackApiUrl: stub.apiUrl },
    logLevel: bolt.LogLevel.ERROR,
  });
  bare.command('/incident', async ({ ack }) => {
    await ack();
  });
  const server = (await bare.start(0)) as unknown as { address(): { port: number } };
  return {
    name: 'bare',
    port: server.address().port,
    idle: async () => {},
    stop: async () => {
      await bare.stop();
    },
  };
}

async function load(port: number, n: number) {
  const { stdout } = await exec(
    process.execPath,
    [
      'bench/load-worker.ts',
      String(port),
      stub.url,
      String(n),
      String(CONCURRENCY),
      SECRET,
      String(INCIDENTS),
    ],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return JSON.parse(stdout) as { latencies: number[]; seconds: number; errors: number };
}

/** CPU ms of a process from /proc (utime + stime, 100 Hz ticks). */
function procCpuMs(pid: number | undefined): number {
  if (!pid) return 0;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
const stubPid = readdirSync('/proc')
  .filter((d) => /^\d+$/.test(d))
  .find((d) => {
    try {
      return (
        readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('slack-stub-process.ts') &&
        readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]?.split(' ')[1] === String(process.pid)
      );
    } catch {
      return false;
    }
  });
const redisPid = redis.process?.pid;
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

const sides = [
  ...(process.env.NO_BARE ? [] : [await bareSide()]),
  await botSide('old', OLD_ROOT),
  await botSide('new', process.cwd()),
];
for (const s of sides) await load(s.port, 500);
const rows: Record<string, unknown>[] = [];
const all = new Map<string, number[]>(sides.map((s) => [s.name, []]));
for (let r = 0; r < ROUNDS; r++) {
  const order = sides.map((_, i) => sides[(i + r) % sides.length] as Side);
  for (const side of order) {
    const elu = monitorEventLoopDelay({ resolution: 1 });
    elu.enable();
    const cpu0 = process.cpuUsage();
    const gc0 = gcMs;
    const r0 = procCpuMs(redisPid);
    const s0 = procCpuMs(Number(stubPid));
    const run = await load(side.port, PER_ROUND);
    await side.idle();
    const cpu = process.cpuUsage(cpu0);
    elu.disable();
    all.get(side.name)?.push(...run.latencies);
    const s = summarize(run.latencies);
    rows.push({
      round: r,
      side: side.name,
      p50: s.p50,
      p99: s.p99,
      rps: Math.round(PER_ROUND / run.seconds),
      cpuMsPerReq: Number(((cpu.user + cpu.system) / 1000 / PER_ROUND).toFixed(3)),
      redisMsPerReq: Number(((procCpuMs(redisPid) - r0) / PER_ROUND).toFixed(3)),
      stubMsPerReq: Number(((procCpuMs(Number(stubPid)) - s0) / PER_ROUND).toFixed(3)),
      gcMs: Math.round(gcMs - gc0),
      loopP99: Number((elu.percentile(99) / 1e6).toFixed(1)),
      loopMax: Number((elu.max / 1e6).toFixed(1)),
      errors: run.errors,
      load1: loadavg()[0]?.toFixed(1),
    });
  }
}
console.table(rows);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
for (const side of sides) {
  const mine = rows.filter((x) => x.side === side.name);
  const s = summarize(all.get(side.name) ?? []);
  console.log(
    side.name,
    'pooled p50',
    s.p50,
    'p99',
    s.p99,
    '| median of rounds: p99',
    med(mine.map((x) => x.p99 as number)),
    'rps',
    med(mine.map((x) => x.rps as number)),
    'cpu ms/req',
    med(mine.map((x) => x.cpuMsPerReq as number)),
    'loopP99',
    med(mine.map((x) => x.loopP99 as number)),
    'redis ms/req',
    med(mine.map((x) => x.redisMsPerReq as number)),
    'stub ms/req',
    med(mine.map((x) => x.stubMsPerReq as number)),
  );
}
// Per-round ratios against bare in the same round.
for (const name of ['old', 'new']) {
  const p99 = [];
  const p50 = [];
  const tp = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = rows.find((x) => x.round === r && x.side === 'bare');
    const o = rows.find((x) => x.round === r && x.side === name);
    if (!b || !o) continue;
    p99.push((o.p99 as number) / (b.p99 as number));
    p50.push((o.p50 as number) / (b.p50 as number));
    tp.push((o.rps as number) / (b.rps as number));
  }
  const f = (xs: number[]) =>
    `${med(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}]`;
  console.log(name, 'ratio vs bare: p50', f(p50), 'p99', f(p99), 'throughput', f(tp));
}
for (const s of sides) await s.stop();
await stub.close();
await redis.stop();
process.exit(0);
