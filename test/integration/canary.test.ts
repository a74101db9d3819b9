// /canary end to end on real Redis and a local Route 53: the approved ramp, bakes the breaker watches, rollback on a
// breach, pause/resume/abort, a restart mid-bake, and bad input that touches nothing.
import assert from 'node:assert/strict';
import { getBreaker } from '../../flows/breaker/evaluator.ts';
import { getCanary } from '../../flows/canary/canary.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { MessageRef } from '../../src/chat/chat.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { fakeClock } from '../support/aws.ts';
import { CHANNEL, textOf } from '../support/bot.ts';
import {
  breakerBot,
  breakerConfig,
  nockConditions,
  nockEvaluation,
  paymentsRecords,
  startRoute53,
  type BreakerBot,
  type Route53Kit,
} from '../support/breaker.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const INTERVAL = 30_000;

describe('/canary (real Redis, local Route 53, Prometheus by nock)', () => {
  useNock();
  let store: RedisStore;
  let r53: Route53Kit;
  const bots: BreakerBot[] = [];

  beforeEach(async () => {
    store = await isolatedRedisStore();
    r53 = await startRoute53(paymentsRecords({ legacy: 100, cloud: 0 }));
  });

  afterEach(async () => {
    for (const b of bots.splice(0)) await b.bot.stop();
    await store.close();
    await r53.server.stop();
  });

  function bot(opts: Partial<Parameters<typeof breakerBot>[0]> = {}): BreakerBot {
    const b = breakerBot({ store, config: breakerConfig(), r53, ...opts });
    bots.push(b);
    return b;
  }

  async function armed(t: BreakerBot): Promise<void> {
    await t.command('alice', '/incident', 'declare payments sev=3 re-migration of payments');
    await t.command('alice', '/breaker', 'arm');
    const action = (await t.bot.deps.approvals.listForIncident('INC-1')).find(
      (a) => a.kind === 'breaker.arm',
    );
    assert.ok(action);
    await t.click('bob', APPROVE_ACTION, action.id);
    assert.equal((await getBreaker(t.bot.deps, 'payments'))?.status, 'armed');
  }

  /** alice asks, dave approves; returns the progress card. */
  async function start(t: BreakerBot, text: string): Promise<MessageRef> {
    nockConditions();
    const replies = await t.command('alice', '/canary', text);
    assert.match(textOf(replies[0]), /Approval card posted for \*Canary payments to cloud/);
    assert.match(textOf(replies[0]), /Preflight passed with warnings: CDC sync running, lag within bounds/);
    const action = (await t.bot.deps.approvals.listForIncident('INC-1')).find(
      (a) => a.kind === 'canary.start',
    );
    assert.ok(action);
    assert.deepEqual(await t.click('dave', APPROVE_ACTION, action.id), []);
    const card = (await getCanary(t.bot.deps, 'payments'))?.card;
    assert.ok(card, 'the progress card was posted');
    return card;
  }

  /** One breaker interval: the evaluation it makes (ok values by default), then the clock moves on. */
  async function interval(t: BreakerBot, memory: string[] = ['0.55']): Promise<void> {
    nockEvaluation(memory);
    await t.step(INTERVAL);
  }

  async function kinds(t: BreakerBot): Promise<string[]> {
    return (await t.bot.deps.timeline.read('INC-1'))
      .map((e) => e.kind)
      .filter((k) => k.startsWith('canary.'));
  }

  it('ramps step by step, holding each for the bake while the breaker evaluates, and edits one card', async () => {
    const t = bot();
    await armed(t);
    const card = await start(t, 'start steps=10,50 bake=90s');
    assert.equal(r53.weights(), 'cloud=10 legacy=90');
    let state = await getCanary(t.bot.deps, 'payments');
    assert.equal(state?.status, 'baking');
    assert.equal(state?.bakeEndsAt, '2026-11-26T10:01:35.000Z');

    await interval(t);
    await interval(t);
    assert.equal(r53.weights(), 'cloud=10 legacy=90', 'held for the whole bake');
    await interval(t);
    assert.equal(r53.weights(), 'cloud=50 legacy=50', 'next step after 90 s');
    await interval(t);
    await interval(t);
    await interval(t);
    state = await getCanary(t.bot.deps, 'payments');
    assert.equal(state?.status, 'completed');
    assert.equal(r53.server.accepted.length, 2);
    assert.equal((await getBreaker(t.bot.deps, 'payments'))?.evaluations, 6);
    assert.deepEqual(await kinds(t), ['canary.started', 'canary.step', 'canary.step', 'canary.completed']);
    const comments = r53.server.requests
      .filter((r) => r.method === 'POST')
      .map((r) => /<Comment>(.*)<\/Comment>/.exec(r.body)?.[1]);
    assert.match(
      comments[0] ?? '',
      /act-[0-9a-f]{8}-step1: payments legacy 90% by payments canary: canary step 1\/2: cloud 10%$/,
    );
    assert.match(
      comments[1] ?? '',
      /act-[0-9a-f]{8}-step2: payments legacy 50% by payments canary: canary step 2\/2: cloud 50%$/,
    );

    const posts = t.chat.sent.filter((s) => s.kind === 'post' && s.ts === card.ts);
    assert.equal(posts.length, 1, 'one card');
    assert.ok(
      t.chat.sent.filter((s) => s.kind === 'update' && s.ts === card.ts).length >= 2,
      'edited in place',
    );
    const shown = textOf(t.chat.latest(card));
    assert.match(shown, /Canary: payments to cloud 50%/);
    assert.match(shown, /completed/);
    assert.match(shown, /~10%~ :white_check_mark: → ~50%~ :white_check_mark:/);
  });

  it('a breach during a bake rolls back to legacy 100% and stops the canary for good', async () => {
    const t = bot();
    await armed(t);
    const card = await start(t, 'start steps=5,25 bake=2m');
    assert.equal(r53.weights(), 'cloud=5 legacy=95');
    await interval(t, ['0.91']);
    await interval(t, ['0.93']);
    await interval(t, ['0.96']);
    assert.equal(r53.weights(), 'cloud=0 legacy=100');
    assert.equal((await getCanary(t.bot.deps, 'payments'))?.status, 'rolled_back');
    await t.step(INTERVAL); // the bake would have ended here: no step 2, no evaluation (latched)
    await t.step(INTERVAL);
    assert.equal(r53.server.accepted.length, 2, 'step 1 and the trip, nothing after');
    assert.equal(r53.weights(), 'cloud=0 legacy=100');
    assert.deepEqual(await kinds(t), ['canary.started', 'canary.step', 'canary.rolled_back']);
    const rolledBack = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'canary.rolled_back');
    assert.match(rolledBack?.summary ?? '', /the breaker tripped at step 1 \(cloud 5%\)/);
    assert.match(textOf(t.chat.latest(card)), /rolled back by the breaker/);
    const trip = t.chat.sent.find(
      (s) => s.kind === 'post' && textOf(s.message).startsWith('payments breaker tripped'),
    );
    assert.match(textOf(trip?.message), /stopped at step 1 of 2 \(cloud 5%\)/);
    const resumed = await t.command('alice', '/canary', 'resume');
    assert.match(textOf(resumed[0]), /is rolled_back; only a paused canary can be resumed\. Start a new one/);
  });

  it('pause holds the step and keeps the rest of the bake; resume goes on; abort goes back to legacy', async () => {
    const t = bot();
    await armed(t);
    await start(t, 'start payments steps=10,20,40 bake=90s');
    await interval(t);
    const paused = await t.command('carol', '/canary', 'pause');
    assert.match(
      textOf(paused[0]),
      /paused at step 1 of 3 \(cloud 10%\)\. Traffic stays there; \/canary resume continues \(1m of bake left\)/,
    );
    await interval(t);
    nockEvaluation(['0.5']);
    await t.step(10 * 60_000);
    assert.equal(r53.weights(), 'cloud=10 legacy=90', 'nothing moves while paused');
    assert.match(
      textOf((await t.command('carol', '/canary', 'pause'))[0]),
      /is paused; only a running canary can be paused/,
    );

    const resumed = await t.command('carol', '/canary', 'resume');
    assert.match(textOf(resumed[0]), /resumed at step 1 \(cloud 10%\); the bake ends at 10:12:05Z/);
    await interval(t);
    assert.equal(r53.weights(), 'cloud=10 legacy=90');
    await interval(t);
    assert.equal(r53.weights(), 'cloud=20 legacy=80', 'the rest of the bake, then step 2');

    const aborted = await t.command('carol', '/canary', 'abort');
    assert.match(textOf(aborted[0]), /Canary of payments aborted: traffic is back to legacy 100%/);
    assert.equal(r53.weights(), 'cloud=0 legacy=100');
    assert.equal((await getCanary(t.bot.deps, 'payments'))?.status, 'aborted');
    await interval(t);
    await interval(t);
    await interval(t);
    assert.equal(r53.weights(), 'cloud=0 legacy=100', 'no step after an abort');
    assert.deepEqual(await kinds(t), [
      'canary.started',
      'canary.step',
      'canary.paused',
      'canary.resumed',
      'canary.step',
      'canary.aborted',
    ]);
  });

  it('disarming the breaker pauses a running canary, which cannot resume without it', async () => {
    const t = bot();
    await armed(t);
    await start(t, 'start steps=10,20 bake=90s');
    const reply = await t.command('carol', '/breaker', 'disarm');
    assert.match(textOf(reply[0]), /the canary is paused at cloud 10% \(no breaker guards it\)/);
    assert.equal((await getCanary(t.bot.deps, 'payments'))?.status, 'paused');
    await t.step(5 * 60_000);
    assert.equal(r53.weights(), 'cloud=10 legacy=90');
    const resumed = await t.command('carol', '/canary', 'resume');
    assert.match(
      textOf(resumed[0]),
      /The breaker that guarded this canary is disarmed, so the canary cannot continue/,
    );
  });

  it('survives a restart mid-bake: the next bot writes the next step and edits the same card', async () => {
    const clock = fakeClock();
    const a = breakerBot({ store, config: breakerConfig(), r53, clock, instanceId: 'bot-a' });
    await armed(a);
    const card = await start(a, 'start steps=10,30 bake=90s');
    await interval(a);
    await a.evaluator.release(); // SIGTERM: the lease is handed over at once
    await a.bot.stop();

    const b = bot({ clock, instanceId: 'bot-b' });
    await b.bot.start();
    await interval(b);
    assert.equal(r53.weights(), 'cloud=10 legacy=90');
    await interval(b);
    assert.equal(r53.weights(), 'cloud=30 legacy=70');
    const state = await getCanary(b.bot.deps, 'payments');
    assert.equal(state?.index, 1);
    assert.equal(state?.status, 'baking');
    assert.ok(
      b.chat.sent.some((s) => s.kind === 'update' && s.ts === card.ts),
      'the same card, edited by bot-b',
    );
    const by = (await getBreaker(b.bot.deps, 'payments'))?.last.map((e) => e.by);
    assert.deepEqual(by, ['bot-a', 'bot-b', 'bot-b']);
  });

  it('refuses bad input with a message and touches nothing', async () => {
    const t = bot();
    const cases: [string, RegExp][] = [
      ['', /Say what to do: start, pause, resume or abort/],
      ['launch', /Unknown subcommand "launch"/],
      ['start steps=10,50', /A canary start is approved and recorded on an incident timeline/],
      ['pause payments steps=1', /Unknown option steps=\. This command takes no options/],
      ['pause', /Name the service/],
      ['pause payments', /There is no canary of payments\. Start one with \/canary start/],
      ['abort payments', /There is no canary of payments/],
    ];
    await t.command('alice', '/incident', 'declare payments sev=3 re-migration');
    const inIncident: [string, RegExp][] = [
      ['start steps=5,1', /Steps must increase: 1% comes after 5%\. The schedule ends where it says/],
      ['start steps=2.5,10', /Step "2\.5" is not a whole percentage\. Weights are whole percentages/],
      ['start steps=0,5', /Step 0% is outside 1-100/],
      ['start steps=5,,10', /has an empty step/],
      ['start steps=5,101', /Step 101% is outside 1-100/],
      ['start bake=10s', /bake=10s is shorter than three breaker intervals \(3 × 30s = 1m 30s\)/],
      ['start bake=soon', /bake="soon" is not a duration; write it like bake=10m/],
      ['start checkout', /This channel's incident INC-1 is about payments, not checkout/],
      [
        'start payments extra',
        /Unexpected "extra"; \/canary start takes at most a service name, then steps= and bake=/,
      ],
      ['start size=3', /Unknown option size=\. Known options: steps=, bake=/],
    ];
    for (const [text, expected] of cases) {
      const replies = await t.command('alice', '/canary', text, 'C0OTHER');
      assert.match(textOf(replies[0]), expected, text);
    }
    for (const [text, expected] of inIncident) {
      const replies = await t.command('alice', '/canary', text, CHANNEL);
      assert.match(textOf(replies[0]), expected, text);
    }
    assert.equal(r53.server.requests.length, 0, 'no Route 53 call');
    assert.equal((await t.bot.deps.approvals.listForIncident('INC-1')).length, 0);
  });

  it('runs preflight first and refuses to start on a FAIL (breaker not armed), or below the current share', async () => {
    const t = bot();
    await t.command('alice', '/incident', 'declare payments sev=3 re-migration');
    nockConditions();
    const refused = await t.command('alice', '/canary', 'start steps=10,50 bake=2m');
    const text = textOf(refused[0]);
    assert.match(text, /Canary not started: preflight found 1 failing check\(s\)/);
    assert.match(text, /FAIL Breaker armed: never armed — fix: \/breaker arm payments/);
    assert.equal(r53.server.accepted.length, 0);
    assert.equal((await t.bot.deps.approvals.listForIncident('INC-1')).length, 0);
    const checked = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'preflight.checked');
    assert.equal(checked?.data.for, 'canary');

    r53.server.setRecords('Z0BREAKERPAYMENTS', paymentsRecords({ legacy: 70, cloud: 30 }));
    await t.command('alice', '/breaker', 'arm');
    const arm = (await t.bot.deps.approvals.listForIncident('INC-1')).find((a) => a.kind === 'breaker.arm');
    await t.click('bob', APPROVE_ACTION, arm?.id ?? '');
    nockConditions();
    const low = await t.command('alice', '/canary', 'start steps=10,25,50 bake=2m');
    assert.match(
      textOf(low[0]),
      /Cloud already gets 30%, so the first step \(10%\) would not raise it\. Start above 30%, e\.g\. steps=50/,
    );
    assert.equal(r53.server.accepted.length, 0);
  });
});
