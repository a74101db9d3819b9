// Inputs the bot used to accept by ignoring part of them: each is now refused with the usage, and nothing happens.
import assert from 'node:assert/strict';
import type { RedisStore } from '../../src/store/redis.ts';
import { makeTestBot, textOf } from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';

describe('faults: inputs that were silently half-ignored', () => {
  let store: RedisStore;

  beforeEach(async () => {
    store = await isolatedRedisStore();
  });

  afterEach(async () => {
    await store.close();
  });

  it('/incident with options but no subcommand says to name the subcommand (it showed help, dropping them)', async () => {
    const t = makeTestBot({ store });
    const [reply] = await t.command('alice', '/incident', 'sev=1 pagerduty=PT4KHLK');
    assert.match(
      textOf(reply),
      /^Say what to do first \(declare, status, list, role, sev, update, resolve, link or help\), then its options/,
    );
    assert.match(textOf(reply), /\/incident declare <service> \[sev=1-5\]/);
    assert.deepEqual(t.chat.sent, [], 'nothing posted');
    assert.deepEqual(await t.bot.deps.incidents.listAll(), []);
    // Help itself is unchanged.
    assert.match(textOf((await t.command('alice', '/incident', ''))[0]), /cloud-safety commands/);
    assert.match(textOf((await t.command('alice', '/incident', 'help'))[0]), /cloud-safety commands/);
  });

  it('/incident status with words after it refuses them (it showed the status, dropping them)', async () => {
    const t = makeTestBot({ store });
    await t.command('alice', '/incident', 'declare payments');
    const events = (await t.bot.deps.timeline.read('INC-1')).length;
    const [reply] = await t.command('alice', '/incident', 'status payments; DROP TABLE incidents');
    assert.match(
      textOf(reply),
      /^\/incident status takes nothing after it; got "payments;" "DROP" "TABLE" "incidents"\./,
    );
    assert.equal((await t.bot.deps.timeline.read('INC-1')).length, events);
    assert.match(textOf((await t.command('alice', '/incident', 'status'))[0]), /INC-1/);
  });
});
