// This checkout's bot alone under the ack benchmark's load, round after round: latency, CPU per request, event-loop
// delay and heap per round, and a CPU profile (node:inspector) from round PROFILE_FROM on. A cost that appears only
// after some rounds (as the Web API fallback did once the load reused its response_urls) shows here as a step.
// Usage: ROUNDS=8 PROFILE_FROM=4 PROFILE_OUT=/tmp/ack.cpuprofile node bench/ack-prof.ts
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { summarize } from './lib.ts';
import { startRemoteSlackStub } from './slack-stub-process.ts';
import { startRedis } from '../test/support/redis.ts';
import { RedisStore } from '../src/store/redis.ts';
import { testConfig } from '../test/support/bot.ts';
import { startHttpBot, SIGNING_SECRET } from '../test/support/slack-app.ts';

const exec = promisify(execFile);
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const PROFILE_FROM = Number(process.env.PROFILE_FROM ?? 99);
const redis = await startRedis();
const stub = await startRemoteSlackStub();
const store = new RedisStore(redis.url, { prefix: 'p:' });
const app = await startHttpBot({
  config: testConfig(),
  store,
  apiUrl: stub.apiUrl,
  logLevel: 'silent',
  editIntervalMs: 1000,
});
for (let k = 0; k < 100; k++)
  await app.bot.handleCommand({
    command: '/incident',
    text: `declare payments sev=2 incident number ${k}`,
    user: { id: 'U0ALICE', name: 'alice' },
    channel: `C0BENCH${k}`,
    respond: async () => {},
  });
await app.bot.idle();
const session = new Session();
session.connect();
await session.post('Profiler.enable');
for (let r = 0; r < ROUNDS; r++) {
  if (r === PROFILE_FROM) await session.post('Profiler.start');
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const c0 = process.cpuUsage();
  const { stdout } = await exec(
    process.execPath,
    ['bench/load-worker.ts', String(app.transport.port), stub.url, '1000', '50', SIGNING_SECRET, '100'],
    { maxBuffer: 1 << 26 },
  );
  await app.bot.idle();
  const c = process.cpuUsage(c0);
  loop.disable();
  const run = JSON.parse(stdout) as { latencies: number[]; seconds: number };
  const s = summarize(run.latencies);
  console.log(
    r,
    'p50',
    s.p50,
    'p99',
    s.p99,
    'rps',
    Math.round(1000 / run.seconds),
    'cpu ms/req',
    ((c.user + c.system) / 1e6).toFixed(3),
    'loop p99',
    (loop.percentile(99) / 1e6).toFixed(1),
    'heap MB',
    (process.memoryUsage().heapUsed / 1e6).toFixed(0),
  );
}
if (PROFILE_FROM < ROUNDS) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(process.env.PROFILE_OUT ?? 'ack.cpuprofile', JSON.stringify(profile));
}
await app.stop();
await store.close();
await stub.close();
await redis.stop();
process.exit(0);
