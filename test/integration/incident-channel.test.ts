// A channel per incident: created, people invited, headline pinned there, links posted where it was declared.
import assert from 'node:assert/strict';
import { CHANNEL, makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';

const ANNOUNCE = 'C0STATUS';

function config(channels: Record<string, unknown> = { create: true }) {
  return testConfig({
    services: { payments: { announce: ANNOUNCE, responders: ['U0DAVE'] }, checkout: {} },
    incident: { channels },
  });
}

describe('incident channel per incident', () => {
  let t: TestBot;

  afterEach(async () => {
    await t.bot.stop();
  });

  it('creates inc-<n>-<service>, invites declarer and responders, pins the headline there, links back', async () => {
    t = makeTestBot({ config: config() });

    const replies = await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');

    const channel = t.chat.channels.get('C0NEW1');
    assert.deepEqual(channel, {
      id: 'C0NEW1',
      name: 'inc-1-payments',
      private: false,
      members: ['U0ALICE', 'U0DAVE'],
    });
    const incident = await t.bot.deps.incidents.get('INC-1');
    assert.equal(incident?.channel, 'C0NEW1');
    assert.equal(incident?.declaredIn, CHANNEL);
    assert.equal(incident?.headline?.channel, 'C0NEW1');
    assert.ok(t.chat.sent.some((s) => s.kind === 'pin' && s.channel === 'C0NEW1'));
    const links = t.chat.sent.filter(
      (s) => s.kind === 'post' && /INC-1 declared on payments/.test(s.message?.text ?? ''),
    );
    assert.deepEqual(
      links.map((l) => l.channel),
      [CHANNEL, ANNOUNCE],
    );
    assert.match(textOf(links[0]?.message), /→ <#C0NEW1>/);
    assert.match(textOf(replies[0]), /Declared \*INC-1\* for \*payments\* in its own channel <#C0NEW1>/);
    // Every step works in the new channel; the old one has no incident.
    assert.equal((await t.bot.deps.incidents.active('C0NEW1'))?.id, 'INC-1');
    assert.equal(await t.bot.deps.incidents.active(CHANNEL), null);
    const status = await t.command('carol', '/incident', 'update investigating', 'C0NEW1');
    assert.match(textOf(status[0]), /Update posted in <#C0NEW1>/);
  });

  it('picks the next name when Slack says the name is taken', async () => {
    t = makeTestBot({ config: config() });
    await t.chat.createChannel('inc-1-payments', { private: false }); // left over from an older install

    await t.command('alice', '/incident', 'declare payments Cloud pods OOMKilled');

    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.channel, 'C0NEW2');
    assert.equal(t.chat.channels.get('C0NEW2')?.name, 'inc-1-payments-2');
  });

  it('honours the prefix and private=yes', async () => {
    t = makeTestBot({ config: config({ create: true, prefix: 'sev' }) });

    await t.command('alice', '/incident', 'declare checkout private=yes Checkout 502s');

    assert.deepEqual(t.chat.channels.get('C0NEW1'), {
      id: 'C0NEW1',
      name: 'sev-1-checkout',
      private: true,
      members: ['U0ALICE'],
    });
  });

  it('channel=here declares in the current channel, as before', async () => {
    t = makeTestBot({ config: config() });

    await t.command('alice', '/incident', 'declare payments channel=here Cloud pods OOMKilled');

    assert.equal(t.chat.channels.size, 0);
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.channel, CHANNEL);
  });

  it('channel=new works when the config does not create channels by default', async () => {
    t = makeTestBot({ config: config({ create: false }) });

    await t.command('alice', '/incident', 'declare payments channel=new Cloud pods OOMKilled');

    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.channel, 'C0NEW1');
  });

  for (const [name, text, expected] of [
    [
      'a bad channel= value',
      'declare payments channel=elsewhere boom',
      /channel="elsewhere" is not a choice/,
    ],
    ['a bad private= value', 'declare payments private=maybe boom', /private="maybe" is not yes or no/],
    [
      'private= with channel=here',
      'declare payments channel=here private=yes boom',
      /private= applies to a new channel/,
    ],
    ['an unknown service', 'declare billing boom', /Unknown service "billing"/],
  ] as const) {
    it(`refuses ${name}: no channel, no incident`, async () => {
      t = makeTestBot({ config: config() });

      const replies = await t.command('alice', '/incident', text);

      assert.match(textOf(replies[0]), expected);
      assert.equal(t.chat.channels.size, 0);
      assert.deepEqual(await t.bot.deps.incidents.listAll(), []);
      assert.deepEqual(t.chat.sent, []);
    });
  }
});
