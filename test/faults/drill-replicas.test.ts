// Fault: two replicas on one Redis, a drill started on one. The other replica finds the drill in the store and
// acts on its world through the simulators' endpoints (a second person's Approve that lands there shifts the
// drill's simulated Route 53, never a real one); once the hosting replica is gone, it says so plainly, does
// nothing, and can still close the drill with its score.
import assert from 'node:assert/strict';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import { RedisStore } from '../../src/store/redis.ts';
import type { ActiveDrill } from '../../flows/drill/routing.ts';
import { CHANNEL, makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { RecordingChat } from '../support/recording-chat.ts';
import { isolatedRedisStore, testRedisUrl } from '../support/redis.ts';

// Nothing listens there, and no embedded PostgreSQL stands in: the drill's ledger says what is missing; nothing else
// is touched (none of these tests reaches the ledger, and PGlite would take 20 s to start per drill).
const NO_POSTGRES = 'postgres://postgres@127.0.0.1:1/postgres';
// The host's heartbeat, shortened from 15 s / 5 s so a test can wait for it to lapse; the same mechanism (a Redis
// key with a TTL, refreshed by a timer).
const HEARTBEAT = { ttlMs: 3_000, everyMs: 1_000 };
// exec still starts late (50 ms, not at once), but /telemetry's dozen execs no longer wait 400 ms each.
const EXEC_START_MS = 50;

describe('faults: a drill on one of two replicas', function () {
  this.timeout(90_000);
  let stores: RedisStore[];
  let replicas: TestBot[];
  let chat: RecordingChat;
  let drill: ActiveDrill | undefined;

  beforeEach(async () => {
    const first = await isolatedRedisStore();
    stores = [first, new RedisStore(await testRedisUrl(), { prefix: first.prefix })];
    // One Slack workspace: both replicas post to, and press buttons on, the same channel.
    chat = new RecordingChat();
    replicas = stores.map((store, i) =>
      makeTestBot({
        config: testConfig(),
        store,
        chat,
        instanceId: `replica-${i}`,
        env: { CLOUD_SAFETY_DRILL_POSTGRES_URL: NO_POSTGRES },
        drills: { embeddedLedger: false, heartbeat: HEARTBEAT, execStartMs: EXEC_START_MS },
      }),
    );
  });

  afterEach(async () => {
    await drill?.world.stop();
    for (const r of replicas) await r.bot.stop();
    for (const s of stores) await s.close();
  });

  const replica = (i: number): TestBot => {
    const r = replicas[i];
    assert.ok(r);
    return r;
  };

  const lastReply = (r: TestBot) => textOf(r.replies.at(-1)?.message);

  it('the other replica executes an approval against the drill world; after the host goes, it says so and still scores the drill', async () => {
    await replica(0).command('alice', '/drill', 'start seed factor=0.05');
    drill = replica(0).bot.deps.adapters.drills?.inChannel(CHANNEL);
    assert.ok(drill, 'replica-0 runs the drill');

    // alice asks on replica-0; bob's Approve lands on replica-1, which never saw the drill start.
    await replica(0).command('alice', '/contain');
    const [action] = await replica(0).bot.deps.approvals.listForIncident('INC-1');
    assert.ok(action, 'the approval card was posted');
    await replica(1).click('bob', APPROVE_ACTION, action.id);
    const done = await replica(1).bot.deps.approvals.get(action.id);
    assert.equal(done?.state, 'succeeded', done?.result?.summary);
    assert.equal(done?.executor?.owner, 'replica-1', 'replica-1 executed it');
    assert.equal(drill.world.cloudShare(), 0, "the drill's simulated Route 53 got the ChangeBatch");
    assert.equal(drill.world.route53.accepted.length, 1);
    // Cards replica-1 posts or edits in the drill's channel say DRILL too.
    for (const [, m] of chat.messages) assert.match(m.text, /🧪 DRILL/, m.text);

    // A read-only runbook command from replica-1 reaches the drill's simulated cluster.
    await replica(1).command('alice', '/telemetry');
    const kinds = (await replica(1).bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.ok(kinds.includes('telemetry.snapshot'), kinds.join(', '));

    // /drill status acts on the world itself: replica-1 says where it runs.
    await replica(1).command('alice', '/drill', 'status');
    assert.match(
      lastReply(replica(1)),
      /Drill drill-1 runs here on replica replica-0, whose process holds its simulated world; this request reached replica replica-1/,
    );

    // A second drill in the channel is refused there too, whichever replica is asked.
    await replica(1).command('alice', '/drill', 'start payments-leak');
    assert.match(
      lastReply(replica(1)),
      /A drill is already running here \(drill-1, scenario seed, INC-1, hosted by replica replica-0\)/,
    );
    assert.equal(replica(1).bot.deps.adapters.drills?.all().length, 0, 'replica-1 started no world');

    // The host goes away (its process stops): replica-1 refuses plainly and touches nothing.
    await replica(0).bot.deps.adapters.drills?.stopAll();
    drill = undefined;
    await replica(1).command('alice', '/contain');
    assert.match(
      lastReply(replica(1)),
      /Drill drill-1's simulated world went away with replica replica-0, which ran it .*nothing was done, and nothing real was touched. `\/drill stop` scores and closes this drill; `\/drill start \[scenario\]` starts a new one/,
    );
    assert.equal((await replica(1).bot.deps.approvals.listForIncident('INC-1')).length, 1, 'no new request');
    await replica(1).command('alice', '/drill', 'inject oom');
    assert.match(lastReply(replica(1)), /went away with replica replica-0/);

    // /drill stop from replica-1 closes the drill incident with its score, from the timeline.
    await replica(1).command('alice', '/drill', 'stop');
    assert.equal((await replica(1).bot.deps.incidents.get('INC-1'))?.status, 'resolved');
    const scored = [...chat.messages.values()].find((m) => /Drill drill-1 stopped/.test(m.text));
    assert.ok(scored, 'the score is posted');
    await replica(1).command('alice', '/contain');
    assert.match(lastReply(replica(1)), /No active incident|no active incident|Drill drill-1 was stopped/);
  });

  it('a host that dies without shutting down: once its heartbeat lapses, the other replica says the world went away', async () => {
    await replica(0).command('alice', '/drill', 'start seed factor=0.05');
    drill = replica(0).bot.deps.adapters.drills?.inChannel(CHANNEL);
    assert.ok(drill);
    await replica(1).command('alice', '/telemetry');
    assert.ok(
      (await replica(1).bot.deps.timeline.read('INC-1')).some((e) => e.kind === 'telemetry.snapshot'),
    );

    // replica-0 is killed: no shutdown, no goodbye in the store; its simulators and heartbeat just stop.
    drill.stopHeartbeat?.();
    await drill.world.stop();
    drill = undefined;
    const died = Date.now();
    let said = '';
    while (Date.now() - died < 2 * HEARTBEAT.ttlMs && !/went away with replica replica-0/.test(said)) {
      await new Promise((r) => setTimeout(r, HEARTBEAT.everyMs / 5));
      await replica(1).command('alice', '/contain');
      said = lastReply(replica(1));
    }
    assert.match(said, /Drill drill-1's simulated world went away with replica replica-0/);
    // The last beat was at most everyMs before the kill, so its key outlives the kill by ttlMs - everyMs at least.
    assert.ok(
      Date.now() - died >= HEARTBEAT.ttlMs - HEARTBEAT.everyMs,
      'said only once the heartbeat lapsed',
    );
    assert.equal(
      (await replica(1).bot.deps.approvals.listForIncident('INC-1')).length,
      0,
      'nothing requested',
    );
  });
});
