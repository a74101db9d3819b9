// /contain through the whole app in HTTP mode, in real time: Route 53 (the local double behind the fault proxy)
// commits the ChangeBatch, the proxy turns the answer into a 500, and Route 53 reports INSYNC only 20 s later.
import assert from 'node:assert/strict';
import nock from 'nock';
import { Route53TrafficAdapter } from '../../src/adapters/route53.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { NEXT_RECORD, pair, route53Client, trafficConfig, ZONE } from '../support/aws.ts';
import { memoryLogger } from '../support/bot.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import { startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
import { errorXml } from '../../src/drill/route53-xml.ts';
import {
  buttonBody,
  commandBody,
  eventually,
  nockAuthTest,
  RESPONSE_HOST,
  SLACK_API,
  startHttpBot,
  webApiBody,
  type HttpBot,
} from '../support/slack.ts';

const CHANNEL = 'C0PAYMENTS';
const SYNC_MS = 20_000;

interface Posted {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
}

describe('/contain in real time: a 500 after commit, INSYNC 20 s later (HTTP mode, fault proxy, local Route 53)', function () {
  this.timeout(90_000);
  let store: RedisStore;
  let r53: Route53Server;
  let proxy: FaultProxy;
  let app: HttpBot;
  const posted: Posted[] = [];
  const updates: Posted[] = [];

  before(async () => {
    store = await isolatedRedisStore();
    r53 = await startRoute53Server({ zones: { [ZONE]: [...pair(), NEXT_RECORD] }, syncDelayMs: SYNC_MS });
    proxy = await startFaultProxy({ target: r53.url });
    nockAuthTest();
    let seq = 100;
    nock(SLACK_API)
      .post('/api/chat.postMessage', (body) => {
        seq += 1;
        posted.push({ ...webApiBody<Posted>(body), ts: `1764150000.000${seq}` });
        return true;
      })
      .reply(200, () => ({ ok: true, channel: CHANNEL, ts: posted.at(-1)?.ts ?? '' }))
      .persist();
    nock(SLACK_API).post('/api/pins.add').optionally().reply(200, { ok: true }).persist();
    nock(SLACK_API)
      .post('/api/chat.update', (body) => {
        updates.push(webApiBody<Posted>(body));
        return true;
      })
      .optionally()
      .reply(200, { ok: true, channel: CHANNEL })
      .persist();
    nock(RESPONSE_HOST).post(/.*/).optionally().reply(200, { ok: true }).persist();
    const config = trafficConfig();
    const section = config.services.payments?.traffic?.route53;
    assert.ok(section);
    const { log } = memoryLogger();
    app = await startHttpBot({
      config,
      store,
      // Real clock, real sleeps, production poll intervals (2 s, then +1 s up to 5 s).
      adapters: {
        traffic: {
          payments: {
            route53: new Route53TrafficAdapter({
              client: route53Client(proxy.url),
              config: section,
              metrics: createMetrics({ defaults: false }),
              log,
            }),
          },
        },
      },
    });
  });

  after(async () => {
    await app.stop();
    await proxy.stop();
    await r53.stop();
    await store.close();
    nock.cleanAll();
  });

  async function command(text: string, name: string, user = { id: 'U0ALICE', name: 'alice' }) {
    const req = commandBody({ command: name, text, userId: user.id, userName: user.name, channel: CHANNEL });
    assert.equal((await app.send(req.body, req.contentType)).status, 200);
    await app.bot.idle();
  }

  it('reports the change Route 53 really made and "DNS in sync" once it is, about 20 s later', async () => {
    await command('declare payments sev=1 cloud OOM', '/incident');
    await command('payments', '/contain');
    const card = posted.find((p) => /Approval needed/.test(p.text));
    assert.ok(card, 'the approval card was posted');
    const actionId = /\((act-[0-9a-f]{8})\)/.exec(card.text)?.[1];
    assert.ok(actionId);
    // Pressed as on the card: its Approve carries the request id and the keyed hash of the change it shows.
    const approveValue = /"action_id":"approval\.approve","value":"(act-[0-9a-f]{8}\.[0-9a-f]{32})"/.exec(
      JSON.stringify(card.blocks),
    )?.[1];
    assert.ok(approveValue, 'the card shows an Approve button');

    proxy.add({
      method: 'POST',
      path: /\/rrset$/,
      times: 1,
      afterCommit: {
        status: 500,
        body: errorXml('InternalFailure', 'An internal error occurred.', 'Receiver'),
        headers: { 'content-type': 'text/xml' },
      },
    });
    const started = Date.now();
    const press = buttonBody({
      actionId: 'approval.approve',
      value: approveValue,
      userId: 'U0BOB',
      userName: 'bob',
      channel: CHANNEL,
      messageTs: card.ts,
    });
    assert.equal((await app.send(press.body, press.contentType)).status, 200);

    // While Route 53 is PENDING the action is executing and the card says the weights are written.
    await eventually(async () => {
      const kinds = (await app.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
      assert.ok(kinds.includes('traffic.submitted'));
    }, 10_000);
    assert.equal((await app.bot.deps.approvals.get(actionId))?.state, 'executing');

    await eventually(async () => {
      assert.equal((await app.bot.deps.approvals.get(actionId))?.state, 'succeeded');
    }, 60_000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= SYNC_MS, `in sync only after Route 53 said so (${elapsed} ms)`);
    await app.bot.idle();

    const action = await app.bot.deps.approvals.get(actionId);
    assert.doesNotMatch(action?.result?.summary ?? '', /Nothing was written|After a restart/);
    assert.match(action?.result?.summary ?? '', /INSYNC after 2\d s/);
    const events = await app.bot.deps.timeline.read('INC-1');
    assert.match(
      events.find((e) => e.kind === 'traffic.submitted')?.summary ?? '',
      /seen by reading back: ChangeResourceRecordSets answered HTTP 500 \(InternalFailure: An internal error occurred\.\), but the records read back show legacy 100 \/ cloud 0/,
    );
    assert.ok(events.some((e) => e.kind === 'traffic.in_sync'));
    await eventually(() => {
      const last = updates.filter((u) => u.ts === card.ts).at(-1);
      assert.match(JSON.stringify(last?.blocks ?? []), /Done: Shift payments to legacy 100%/);
      assert.match(JSON.stringify(last?.blocks ?? []), /in sync \d\d:\d\d:\d\dZ \(C[0-9A-F]+\)/);
    });
    assert.deepEqual(
      proxy.requests.filter((r) => r.method === 'POST').map((r) => r.fate),
      ['after-commit', 'forwarded'],
      'the lost change, then the no-op marker; never the change again',
    );
    assert.equal(r53.accepted.length, 2);
  });
});
