// Fault: the bot is killed at every step boundary of an approved /contain, restarted, and must end truthfully.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Action } from '../../src/actions.ts';
import { isTerminal } from '../../src/actions.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { getJson } from '../../src/store/store.ts';
import { TimelineLog } from '../../src/timeline-log.ts';
import { freePort, testRedisUrl } from '../support/redis.ts';
import { drillRecords, startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
import { BOT_TOKEN, SIGNING_SECRET, sign } from '../support/slack.ts';
import { startBotProcess, type BotProcess } from './lib/bot-process.ts';
import {
  CHANNEL,
  countKinds,
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  ROUTE53_SECTION,
  USERS,
} from './lib/fixtures.ts';
import { buttonRequest, commandRequest, until, type SlackRequest } from './lib/http-bot.ts';
import { approveValueOn, startLocalSlack, type LocalSlack } from './lib/slack-server.ts';

/** Every step boundary of an approval, in the order an approved /contain crosses them. */
const CRASH_POINTS = [
  'approval.before-approve', // the click is in, the approval not yet written
  'approval.approved', // approved, no executor yet
  'approval.leased', // execution lease taken, still `approved`
  'approval.executing', // `executing`, nothing sent
  'contain.before-write', // under the zone lock, right before the ChangeBatch
  'contain.written', // Route 53 accepted the ChangeBatch, nothing recorded yet
  'contain.submitted', // traffic.submitted recorded, INSYNC not yet polled
  'approval.executed', // the handler returned, the outcome not yet recorded
  'approval.finished', // the outcome recorded, the lease not yet released
] as const;

const tally = { kills: 0, restarts: 0, stranded: 0, doubleWrites: 0, outcomes: [] as string[] };

describe('faults: the bot killed at every step boundary of an approval, then restarted (real processes, Redis)', function () {
  this.timeout(90_000);
  let dir: string;
  let store: RedisStore;
  let prefix: string;
  let slack: LocalSlack;
  let r53: Route53Server;
  let env: NodeJS.ProcessEnv;
  let port: number;
  const procs: BotProcess[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cs-crash-'));
    prefix = `faults-crash:${randomUUID().slice(0, 8)}:`;
    const redisUrl = await testRedisUrl();
    store = new RedisStore(redisUrl, { prefix });
    slack = await startLocalSlack({ channel: CHANNEL });
    r53 = await startRoute53Server({
      zones: { [DRILL_ZONE]: drillRecords(10) },
      healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
      syncDelayMs: 1000,
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

  after(() => {
    for (const line of tally.outcomes) console.log(`      ${line}`);
    console.log(
      `      kill points: ${tally.kills}, restarts: ${tally.restarts}, stranded: ${tally.stranded}, double writes: ${tally.doubleWrites}`,
    );
  });

  async function start(extra: NodeJS.ProcessEnv = {}): Promise<BotProcess> {
    const proc = await startBotProcess({ ...env, ...extra });
    procs.push(proc);
    await proc.waitForLine(/cloud-safety started/);
    return proc;
  }

  /** Sends a signed request; a process that dies before answering is what this suite is about. */
  async function send(req: SlackRequest): Promise<void> {
    await fetch(`http://127.0.0.1:${port}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': req.contentType, ...sign(req.body) },
      body: req.body,
    }).catch(() => undefined);
  }

  async function command(user: keyof typeof USERS, text: string, name: string): Promise<string> {
    const req = commandRequest(slack, { command: name, text, user: USERS[user], channel: CHANNEL });
    await send(req);
    await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1), 15_000);
    return slack.repliesTo(req.replyId)[0]?.body.text ?? '';
  }

  function approve(user: keyof typeof USERS, actionId: string, messageTs: string): Promise<void> {
    return send(
      buttonRequest(slack, {
        actionId: 'approval.approve',
        // The value the card's button carries: the request id and the keyed hash of the change it shows.
        value: approveValueOn(slack, messageTs),
        user: USERS[user],
        channel: CHANNEL,
        messageTs,
      }),
    );
  }

  /** Every lease the dead process held lapses (instead of waiting out its TTL), as it would on its own. */
  async function lapseLeasesOf(pid: number): Promise<void> {
    for (const key of await store.redis.keys(`${prefix}*`)) {
      if ((await store.redis.type(key)) !== 'string') continue;
      const value = (await store.redis.get(key)) ?? '';
      if (/^\d+\|/.test(value) && value.includes(`-${pid}-`)) await store.redis.pexpire(key, 1);
    }
  }

  const timeline = () => new TimelineLog(store, () => new Date()).read('INC-1');
  const actionOf = (id: string) => getJson<Action>(store, `action:${id}`);

  for (const point of CRASH_POINTS) {
    it(`killed at ${point}: after a restart the action ends in a terminal state its card and timeline show, written at most once`, async () => {
      const first = await start({ CLOUD_SAFETY_CRASH_AT: point });
      assert.match(
        await command('alice', 'declare payments sev=1 cloud pods OOMKilled', '/incident'),
        /INC-1/,
      );
      assert.match(await command('alice', '', '/contain'), /Approval card posted/);
      const card = [...slack.messages.values()].find((m) => /Approval needed/.test(m.text));
      assert.ok(card, 'the approval card was posted');
      const actionId = /\((act-[0-9a-f]{8})\)/.exec(card.text)?.[1] ?? '';
      assert.ok(actionId);

      await approve('bob', actionId, card.ts);
      await first.waitForLine(new RegExp(`crash point ${point.replace('.', '\\.')} reached`), 20_000);
      const exit = await first.kill('SIGKILL'); // already dead: resolves with how it died
      assert.equal(exit.signal, 'SIGKILL');
      tally.kills += 1;
      await lapseLeasesOf(first.pid);

      await start();
      tally.restarts += 1;
      if (point === 'approval.before-approve') {
        // The approval never landed: the card still truthfully asks for one. Pressing it again works.
        await until(async () => assert.equal((await actionOf(actionId))?.state, 'requested'));
        await approve('dave', actionId, card.ts);
      }
      try {
        await until(async () => {
          const state = (await actionOf(actionId))?.state;
          assert.ok(state && isTerminal(state), `terminal (is ${state})`);
        }, 30_000);
      } catch (err) {
        tally.stranded += 1;
        throw err;
      }

      const action = await actionOf(actionId);
      const summary = action?.result?.summary ?? '';
      const writes = r53.accepted.length;
      tally.outcomes.push(`${point}: ${action?.state} (${writes} write) ${summary.slice(0, 90)}`);
      if (writes > 1) tally.doubleWrites += 1;
      assert.ok(writes <= 1, `at most one ChangeBatch (saw ${writes})`);
      const legacy = r53.records(DRILL_ZONE).find((r) => r.setIdentifier === 'legacy')?.weight;
      if (writes === 1) {
        assert.equal(legacy, 100, 'the one write shifted to legacy 100');
        assert.equal(action?.state, 'succeeded', summary);
        assert.doesNotMatch(summary, /never applied|Nothing was written/);
      } else {
        assert.equal(legacy, 20, 'nothing was written');
        assert.equal(action?.state, 'failed', summary);
        assert.match(summary, /never applied|Nothing was written|nothing was changed/);
      }
      const headline = action?.state === 'succeeded' ? /^Done: Shift payments/ : /^Failed: Shift payments/;
      await until(() => assert.match(slack.messages.get(card.ts)?.text ?? '', headline), 15_000);
      const kinds = countKinds(await timeline());
      assert.equal(
        (kinds['action.succeeded'] ?? 0) + (kinds['action.failed'] ?? 0),
        1,
        'one outcome on the timeline',
      );
      assert.equal(kinds[`action.${action?.state ?? ''}`], 1);
      assert.ok(
        (await store.members('actions:executing')).every((id) => id !== actionId),
        'not left in flight',
      );
    });
  }

  it('counted every kill point with no stranded action and no double write', () => {
    assert.equal(tally.kills, CRASH_POINTS.length);
    assert.equal(tally.restarts, CRASH_POINTS.length);
    assert.equal(tally.stranded, 0);
    assert.equal(tally.doubleWrites, 0);
  });
});
