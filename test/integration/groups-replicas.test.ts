// Slack sends subteam_members_changed to one replica; a removal must count on every replica (real Redis).
import assert from 'node:assert/strict';
import type { RedisStore } from '../../src/store/redis.ts';
import { makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { RecordingChat } from '../support/recording-chat.ts';
import { isolatedRedisStore } from '../support/redis.ts';

describe('user group changes across replicas (real Redis)', () => {
  let store: RedisStore;
  const bots: TestBot[] = [];

  beforeEach(async () => {
    store = await isolatedRedisStore();
  });

  afterEach(async () => {
    for (const t of bots.splice(0)) await t.bot.stop();
    await store.close();
  });

  function replica(instanceId: string): TestBot {
    // Each replica reads the group from Slack (usergroups.list) and caches it, as in production.
    const chat = new RecordingChat();
    chat.groups = { 'payments-oncall': ['U0ALICE', 'U0CAROL'] };
    const t = makeTestBot({
      store,
      chat,
      instanceId,
      config: testConfig({
        access: { responders: ['@payments-oncall'], groups: { 'sre-leads': ['U0BOB'] } },
      }),
    });
    bots.push(t);
    return t;
  }

  async function list(t: TestBot, user: 'alice' | 'carol'): Promise<string> {
    return textOf((await t.command(user, '/incident', 'list'))[0]);
  }

  it('the replica Slack did not tell drops its cached memberships on its next scheduler pass', async () => {
    const a = replica('replica-a');
    const b = replica('replica-b');
    assert.doesNotMatch(await list(b, 'carol'), /Only responders/);

    // Carol leaves the group; Slack tells replica A only.
    a.chat.groups = { 'payments-oncall': ['U0ALICE'] };
    b.chat.groups = { 'payments-oncall': ['U0ALICE'] };
    await a.bot.handleGroupsChanged();
    assert.match(await list(a, 'carol'), /Only responders can run/);
    assert.doesNotMatch(await list(b, 'carol'), /Only responders/, 'B still has the cached list');

    await b.bot.deps.scheduler.tick();
    await b.bot.idle();
    assert.match(await list(b, 'carol'), /Only responders can run/, 'B followed the change');
    assert.doesNotMatch(await list(b, 'alice'), /Only responders/);

    // Nothing changed since: B keeps its cache (no refetch on every pass).
    b.chat.groups = { 'payments-oncall': ['U0ALICE', 'U0CAROL'] };
    await b.bot.deps.scheduler.tick();
    await b.bot.idle();
    assert.match(await list(b, 'carol'), /Only responders can run/);
  });
});
