// Fault: the bot process is SIGKILLed while a Route 53 shift is executing; a new process re-checks it, never re-sends.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Action } from '../../src/actions.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { getJson } from '../../src/store/store.ts';
import { TimelineLog } from '../../src/timeline-log.ts';
import { freePort, testRedisUrl } from '../support/redis.ts';
import { drillRecords, startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
import { BOT_TOKEN, SIGNING_SECRET } from '../support/slack.ts';
import { startBotProcess, type BotProcess } from './lib/bot-process.ts';
import {
  CHANNEL,
  countKinds,
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  ROUTE53_SECTION,
  USERS,
} from './lib/fixtures.ts';
import { sign } from '../support/slack.ts';
import { buttonRequest, commandRequest, until, type SlackRequest } from './lib/http-bot.ts';
import { approveValueOn, startLocalSlack, type LocalSlack } from './lib/slack-server.ts';

const HOUR = 3_600_000;
const LEASE_MS = 15_000;

describe('faults: bot process killed while an action is executing (real child processes)', function () {
  this.timeout(90_000); // two process start-ups and a 5 s durable follow-up, on a busy 2-core machine
  let dir: string;
  let store: RedisStore;
  let prefix: string;
  let slack: LocalSlack;
  let r53: Route53Server;
  /** How far the local Route 53's clock is ahead: moving it past the sync delay makes the change INSYNC. */
  let r53Ahead = 0;
  let env: NodeJS.ProcessEnv;
  let port: number;
  const procs: BotProcess[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cs-faults-'));
    prefix = `faults-kill:${randomUUID().slice(0, 8)}:`;
    const redisUrl = await testRedisUrl();
    store = new RedisStore(redisUrl, { prefix });
    slack = await startLocalSlack({ channel: CHANNEL });
    r53Ahead = 0;
    r53 = await startRoute53Server({
      zones: { [DRILL_ZONE]: drillRecords(10) },
      healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
      // The change stays PENDING until the test moves the endpoint's clock an hour ahead.
      syncDelayMs: HOUR,
      now: () => Date.now() + r53Ahead,
    });
    const config = {
      access: {
        responders: ['@sre-oncall'],
        approvers: ['@sre-leads'],
        groups: { 'sre-oncall': ['U0ALICE', 'U0CAROL'], 'sre-leads': ['U0BOB', 'U0DAVE'] },
      },
      evidence: { dir: join(dir, 'evidence') },
      services: { payments: { traffic: { route53: ROUTE53_SECTION } } },
    };
    writeFileSync(join(dir, 'cloud-safety.yml'), JSON.stringify(config, null, 2)); // JSON is YAML
    port = await freePort();
    env = {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      PORT: String(port),
      CLOUD_SAFETY_CONFIG: join(dir, 'cloud-safety.yml'),
      AWS_ENDPOINT_URL_ROUTE_53: r53.url,
      AWS_ACCESS_KEY_ID: 'AKIDFAULTSUITE',
      AWS_SECRET_ACCESS_KEY: 'faults-secret-not-real',
      LOG_LEVEL: 'info',
    };
  });

  afterEach(async () => {
    for (const p of procs.splice(0)) await p.kill('SIGKILL');
    await store.close();
    await slack.close();
    await r53.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(): Promise<BotProcess> {
    const proc = await startBotProcess(env);
    procs.push(proc);
    await proc.waitForLine(/cloud-safety started/);
    return proc;
  }

  async function send(req: SlackRequest): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': req.contentType, ...sign(req.body) },
      body: req.body,
    });
    assert.equal(res.status, 200);
  }

  async function command(user: keyof typeof USERS, text: string, name: string): Promise<string> {
    const req = commandRequest(slack, { command: name, text, user: USERS[user], channel: CHANNEL });
    await send(req);
    await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1), 15_000);
    return slack.repliesTo(req.replyId)[0]?.body.text ?? '';
  }

  const timeline = () => new TimelineLog(store, () => new Date()).read('INC-1');
  const actionOf = (id: string) => getJson<Action>(store, `action:${id}`);

  it('re-checks the change by id and the records, reports it on the card and the timeline, and never re-sends it', async () => {
    const first = await start();
    assert.match(await command('alice', 'declare payments sev=1 cloud pods OOMKilled', '/incident'), /INC-1/);
    assert.match(await command('alice', '', '/contain'), /Approval card posted/);
    const card = [...slack.messages.values()].find((m) => /Approval needed/.test(m.text));
    assert.ok(card, 'the approval card was posted');
    const actionId = /\((act-[0-9a-f]{8})\)/.exec(card.text)?.[1] ?? '';
    assert.ok(actionId);

    await send(
      buttonRequest(slack, {
        actionId: 'approval.approve',
        value: approveValueOn(slack, card.ts),
        user: USERS.bob,
        channel: CHANNEL,
        messageTs: card.ts,
      }),
    );
    // Route 53 accepted the batch; the process is polling GetChange (PENDING) when it dies.
    await until(async () => {
      const kinds = countKinds(await timeline());
      assert.equal(kinds['traffic.submitted'], 1);
    }, 15_000);
    assert.equal((await actionOf(actionId))?.state, 'executing');
    const killed = await first.kill('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    const requestsAtKill = r53.requests.length;

    // The dead executor's lease is still in Redis, owned by that process, and expires on its own within 15 s.
    const leaseKey = `${prefix}action:${actionId}:lease`;
    const holder = await store.redis.get(leaseKey);
    assert.match(holder ?? '', new RegExp(`-${first.pid}-`), 'the lease names the killed process');
    const ttl = await store.redis.pttl(leaseKey);
    assert.ok(ttl > 0 && ttl <= LEASE_MS, `the lease has a TTL of at most 15 s (was ${ttl} ms)`);
    // Fast-forward Redis's clock for this one key instead of sleeping 15 s: the lease lapses as it would have.
    await store.redis.pexpire(leaseKey, 1);
    await until(async () => assert.equal(await store.redis.exists(leaseKey), 0));

    const second = await start();
    assert.notEqual(second.pid, first.pid);
    await until(async () => assert.equal((await actionOf(actionId))?.state, 'succeeded'), 15_000);
    const recovered = await actionOf(actionId);
    const changeId = r53.accepted[0]?.id ?? '';
    assert.match(
      recovered?.result?.summary ?? '',
      new RegExp(
        `^After a restart: Route 53: change ${changeId} was accepted and is still PENDING; the records show legacy 100 / cloud 0 as requested\\. Polling continues\\.`,
      ),
    );
    assert.equal(recovered?.result?.data?.recovered, true);
    const afterKill = r53.requests.slice(requestsAtKill).map((r) => `${r.method} ${r.path.split('?')[0]}`);
    const getChange = afterKill.indexOf(`GET /2013-04-01/change/${changeId}`);
    assert.ok(getChange >= 0, 'the new process asked GetChange by the stored change id');
    assert.ok(
      afterKill.indexOf(`GET /2013-04-01/hostedzone/${DRILL_ZONE}/rrset`, getChange) > getChange,
      'then read the records',
    );
    assert.ok(
      afterKill.every((r) => r.startsWith('GET ')),
      'nothing was written after the kill',
    );
    await until(() => {
      const now = slack.messages.get(card.ts);
      assert.match(now?.text ?? '', /^Done: Shift payments to legacy 100%/);
      assert.match(JSON.stringify(now?.blocks), /After a restart: Route 53: change/);
    }, 10_000);

    // Route 53 finishes propagating: the new process's durable follow-up sees INSYNC and reports it.
    r53Ahead = HOUR;
    await until(async () => {
      const events = await timeline();
      const inSync = events.filter((e) => e.kind === 'traffic.in_sync');
      assert.equal(inSync.length, 1);
      assert.equal(inSync[0]?.data.changeId, changeId);
    }, 15_000);
    await until(
      () => assert.match(JSON.stringify(slack.messages.get(card.ts)?.blocks), /DNS in sync/),
      10_000,
    );

    assert.equal(r53.accepted.length, 1, 'exactly one ChangeBatch reached Route 53');
    const events = await timeline();
    const kinds = countKinds(events);
    assert.equal(kinds['action.approved'], 1);
    assert.equal(kinds['action.executing'], 1);
    assert.equal(kinds['traffic.submitted'], 1);
    assert.equal(kinds['action.succeeded'], 1);
    const succeeded = events.find((e) => e.kind === 'action.succeeded');
    assert.match(succeeded?.summary ?? '', /After a restart/);
    assert.equal(succeeded?.data.recovered, true);
    const exit = await second.kill('SIGTERM');
    assert.equal(exit.code, 0, 'SIGTERM shuts the new process down cleanly');
  });
});
