// Time from the second person's Approve click (a signed Slack request) to the ChangeBatch reaching a local
// Route 53 endpoint: the bot's own overhead between a human decision and the DNS write.
import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Route53Client } from '@aws-sdk/client-route-53';
import { WebClient } from '@slack/web-api';
import { Route53TrafficAdapter } from '../src/adapters/route53.ts';
import { startSlack } from '../src/chat/slack/app.ts';
import { SlackChat } from '../src/chat/slack/chat.ts';
import { APPROVE_ACTION } from '../src/chat/blocks/approval.ts';
import { parseConfig } from '../src/config.ts';
import { healthRoutes } from '../src/http.ts';
import { createLogger } from '../src/log.ts';
import { buildBot } from '../src/main.ts';
import { createMetrics } from '../src/metrics.ts';
import { createRedactor } from '../src/redact.ts';
import { RedisStore } from '../src/store/redis.ts';
import {
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  drillRecords,
  startRoute53Server,
} from '../test/support/route53-server.ts';
import { startRedis } from '../test/support/redis.ts';
import { machine, round, summarize, writeResult, type BenchResult } from './lib.ts';
import { startSlackStub } from './slack-stub.ts';

const SECRET = 'bench-signing-secret';
const TOKEN = 'xoxb-bench-0000-token';
const CHANNEL = 'C0BENCH';
const clock = () => performance.timeOrigin + performance.now();

function signed(body: string): Record<string, string> {
  const ts = Math.floor(Date.now() / 1000);
  return {
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': `v0=${createHmac('sha256', SECRET).update(`v0:${ts}:${body}`).digest('hex')}`,
  };
}

async function post(port: number, body: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...signed(body) },
    body,
  });
  if (res.status !== 200) throw new Error(`Bolt answered ${res.status}`);
  await res.arrayBuffer();
}

function command(stubUrl: string, text: string, user: string, i: number): string {
  return new URLSearchParams({
    team_id: 'T0TEAM',
    channel_id: CHANNEL,
    user_id: user,
    user_name: user.toLowerCase(),
    command: text.split(' ')[0] ?? '',
    text: text.split(' ').slice(1).join(' '),
    api_app_id: 'A0APP',
    response_url: `${stubUrl}/respond/${i}`,
    trigger_id: `${i}.1`,
  }).toString();
}

function click(stubUrl: string, actionId: string, i: number): string {
  const payload = {
    type: 'block_actions',
    user: { id: 'U0BOB', username: 'bob', name: 'bob', team_id: 'T0TEAM' },
    api_app_id: 'A0APP',
    container: { type: 'message', message_ts: '1764150000.000100', channel_id: CHANNEL },
    team: { id: 'T0TEAM', domain: 'acme' },
    channel: { id: CHANNEL, name: 'inc' },
    message: { type: 'message', ts: '1764150000.000100', text: 'approval' },
    response_url: `${stubUrl}/respond/click-${i}`,
    trigger_id: `${i}.2`,
    actions: [
      { type: 'button', action_id: APPROVE_ACTION, block_id: 'approval', value: actionId, action_ts: '1' },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function run(opts: { iterations?: number } = {}): Promise<BenchResult> {
  const iterations = opts.iterations ?? Number(process.env.BENCH_ITERATIONS ?? 200);
  const redis = await startRedis();
  const stub = await startSlackStub();
  const r53 = await startRoute53Server({
    zones: { [DRILL_ZONE]: drillRecords(10) },
    healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
    syncDelayMs: 20,
    now: clock,
  });
  const redactor = createRedactor([TOKEN, SECRET]);
  const log = createLogger(redactor, { level: 'silent' });
  const metrics = createMetrics({ defaults: false });
  const config = parseConfig(
    {
      access: {
        responders: ['@oncall'],
        approvers: ['@leads'],
        groups: { oncall: ['U0ALICE'], leads: ['U0BOB'] },
      },
      services: {
        payments: {
          traffic: {
            route53: {
              hostedZoneId: DRILL_ZONE,
              recordName: 'api.payments.example.com',
              legacy: 'legacy',
              cloud: 'cloud',
            },
          },
        },
      },
    },
    'bench config',
  );
  const route53Config = config.services.payments?.traffic?.route53;
  if (!route53Config) throw new Error('bench config lost its route53 section');
  const adapter = new Route53TrafficAdapter({
    client: new Route53Client({
      region: 'us-east-1',
      endpoint: r53.url,
      maxAttempts: 1,
      credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    }),
    config: route53Config,
    metrics,
    log,
    // Poll GetChange quickly so an iteration ends soon after INSYNC; the measured part ends at the write.
    pollIntervalMs: () => 20,
  });
  const store = new RedisStore(redis.url, { prefix: 'bench-approval:' });
  const bot = buildBot({
    config,
    store,
    chat: new SlackChat(new WebClient(TOKEN, { slackApiUrl: stub.apiUrl })),
    log,
    redactor,
    metrics,
    env: {},
    adapters: { traffic: { payments: { route53: adapter } } },
    // Card edits are coalesced per second in production; that happens after the write, so only the wait
    // between iterations shrinks here, not the measured window.
    editIntervalMs: 50,
  });
  await bot.start();
  const transport = await startSlack(bot, {
    mode: 'http',
    botToken: TOKEN,
    signingSecret: SECRET,
    port: 0,
    apiUrl: stub.apiUrl,
    routes: healthRoutes({ store, metrics, mode: 'http' }),
    log,
  });
  const samples: number[] = [];
  try {
    await post(transport.port, command(stub.url, '/incident declare payments sev=1 bench', 'U0ALICE', 0));
    await until('the incident', async () => (await bot.deps.incidents.active(CHANNEL)) ?? undefined);
    for (let i = 1; i <= iterations + 10; i++) {
      r53.setRecords(DRILL_ZONE, drillRecords(10));
      await post(transport.port, command(stub.url, '/contain', 'U0ALICE', i));
      const action = await until('the request', async () =>
        (await bot.deps.approvals.listForIncident('INC-1')).find((a) => a.state === 'requested'),
      );
      const before = r53.accepted.length;
      const t0 = clock();
      await post(transport.port, click(stub.url, action.id, i));
      const change = await until('the ChangeBatch', async () => r53.accepted[before]);
      if (i > 10) samples.push(change.at - t0); // the first ten warm up JIT and connections
      if (process.env.BENCH_DEBUG) console.error(`iteration ${i}: ${round(change.at - t0)} ms`);
      await until('the shift to finish', async () => {
        const done = await bot.deps.approvals.get(action.id);
        return done && ['succeeded', 'failed'].includes(done.state) ? done : undefined;
      });
      await bot.idle();
    }
    const stats = summarize(samples);
    return {
      name: 'approval-to-change',
      title: `Approve click (signed request) to ChangeBatch at a local Route 53 endpoint, ${iterations} shifts, real Redis`,
      when: new Date().toISOString(),
      machine: machine(),
      headline: { p50: `${stats.p50} ms`, p99: `${stats.p99} ms`, max: `${stats.max} ms` },
      target: { text: 'p99 < 50 ms', met: stats.p99 < 50 },
      details: { ...stats, iterations, changeBatches: r53.accepted.length, meanMs: round(stats.mean) },
    };
  } finally {
    await transport.stop();
    await bot.stop();
    await store.close();
    await r53.stop();
    await stub.close();
    await redis.stop();
  }
}

if (import.meta.main) {
  const result = await run();
  console.log(JSON.stringify(result, null, 2));
  console.log(`written to ${writeResult(result)}`);
}
