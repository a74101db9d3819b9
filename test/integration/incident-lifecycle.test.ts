// Roles, severity, status updates and their durable reminders, driven as users through the real bot.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CHANNEL, makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { RecordingChat } from '../support/recording-chat.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import type { RedisStore } from '../../src/store/redis.ts';

const ANNOUNCE = 'C0STATUS';
const MIN = 60_000;

function config() {
  return testConfig({
    services: { payments: { announce: ANNOUNCE }, checkout: {} },
    incident: { updateEvery: '30m', postmortemAfter: '1h' },
  });
}

/** A clock the test moves; durable timers run on it. */
function clock(start = Date.parse('2026-12-03T03:00:00Z')) {
  let t = start;
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
  };
}

describe('incident lifecycle: roles, severity, updates, reminders', () => {
  let t: TestBot;
  let time: ReturnType<typeof clock>;

  async function events() {
    return t.bot.deps.timeline.read('INC-1');
  }

  async function tick() {
    await t.bot.deps.scheduler.tick();
    await t.bot.idle();
  }

  beforeEach(async () => {
    time = clock();
    t = makeTestBot({ config: config(), now: time.now });
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
  });

  afterEach(async () => {
    await t.bot.stop();
  });

  describe('roles', () => {
    it('hands commander over: the incident, the headline and the timeline follow', async () => {
      const replies = await t.command('alice', '/incident', 'role commander <@U0BOB|bob>');

      assert.match(textOf(replies[0]), /<@U0BOB> is now commander of \*INC-1\* \(was <@U0ALICE>\)/);
      const incident = await t.bot.deps.incidents.get('INC-1');
      assert.equal(incident?.commander.id, 'U0BOB');
      const last = (await events()).at(-1);
      assert.equal(last?.kind, 'incident.role_assigned');
      assert.deepEqual(last?.data, {
        role: 'commander',
        user: { id: 'U0BOB', name: 'bob' },
        previous: { id: 'U0ALICE', name: 'alice' },
      });
      assert.match(last?.summary ?? '', /alice handed commander of INC-1 from alice to bob/);
      const headline = incident?.headline;
      assert.ok(headline);
      assert.match(textOf(t.chat.latest(headline)), /Commander.*<@U0BOB>/);
    });

    it('assigns the comms lead and shows it on the headline', async () => {
      await t.command('alice', '/incident', 'role comms <@U0CAROL|carol>');

      const incident = await t.bot.deps.incidents.get('INC-1');
      assert.deepEqual(incident?.roles, { comms: { type: 'user', id: 'U0CAROL', name: 'carol' } });
      assert.ok(incident?.headline);
      assert.match(textOf(t.chat.latest(incident.headline)), /comms: <@U0CAROL>/);
    });

    for (const [name, text, expected] of [
      [
        'an unknown role',
        'role janitor <@U0BOB|bob>',
        /Unknown role "janitor"\. Roles here: commander, comms, scribe/,
      ],
      ['a user not in the workspace', 'role comms <@U0NOBODY|ghost>', /is not a person in this workspace/],
      ['a plain name instead of a mention', 'role comms bob', /"bob" is not a person in this workspace/],
      ['no person', 'role comms', /Name a role and one person/],
      ['two people', 'role comms <@U0BOB> <@U0CAROL>', /Name a role and one person/],
      [
        'the current holder',
        'role commander <@U0ALICE|alice>',
        /alice is already commander of INC-1; nothing changed/,
      ],
    ] as const) {
      it(`refuses ${name} and changes nothing`, async () => {
        const before = await events();
        const sentBefore = t.chat.sent.length;

        const replies = await t.command('alice', '/incident', text);

        assert.match(textOf(replies[0]), expected);
        assert.match(textOf(replies[0]), /\/incident role <role> @person/, 'shows the usage');
        assert.equal((await events()).length, before.length);
        assert.equal((await t.bot.deps.incidents.get('INC-1'))?.commander.id, 'U0ALICE');
        assert.equal(t.chat.sent.length, sentBefore, 'nothing posted');
      });
    }
  });

  describe('severity', () => {
    it('changes severity with a reason and keeps the change on the timeline', async () => {
      const replies = await t.command('carol', '/incident', 'sev 3 only EU cards affected, workaround=retry');

      assert.match(textOf(replies[0]), /\*INC-1\* is now SEV3 \(was SEV1\)/);
      assert.equal((await t.bot.deps.incidents.get('INC-1'))?.severity, 'SEV3');
      const last = (await events()).at(-1);
      assert.equal(last?.kind, 'incident.severity_changed');
      assert.deepEqual(last?.data, {
        from: 'SEV1',
        to: 'SEV3',
        reason: 'only EU cards affected, workaround=retry',
      });
    });

    it('takes SEV5 (the lowest)', async () => {
      await t.command('carol', '/incident', 'sev 5 cosmetic only');
      assert.equal((await t.bot.deps.incidents.get('INC-1'))?.severity, 'SEV5');
    });

    for (const [name, text, expected] of [
      ['a severity out of range', 'sev 6 worse than ever', /"6" is not a severity; give 1 \(worst\) to 5/],
      ['zero', 'sev 0 meltdown', /"0" is not a severity/],
      ['no reason', 'sev 2', /Say why INC-1 becomes SEV2/],
      ['nothing at all', 'sev', /Give the new severity and why/],
      ['the same severity', 'sev 1 still bad', /INC-1 is already SEV1; nothing changed/],
    ] as const) {
      it(`refuses ${name} and changes nothing`, async () => {
        const before = await events();
        const replies = await t.command('alice', '/incident', text);

        assert.match(textOf(replies[0]), expected);
        assert.equal((await events()).length, before.length);
        assert.equal((await t.bot.deps.incidents.get('INC-1'))?.severity, 'SEV1');
      });
    }
  });

  describe('status updates', () => {
    it('posts the update in the incident channel and to stakeholders, and records it', async () => {
      time.advance(12 * MIN);
      const replies = await t.command(
        'alice',
        '/incident',
        'update Traffic on legacy; errors back to 0.1%. Next update 03:45.',
      );

      const posts = t.chat.sent.filter((s) => s.kind === 'post' && /update:/.test(s.message?.text ?? ''));
      assert.deepEqual(
        posts.map((p) => p.channel),
        [CHANNEL, ANNOUNCE],
      );
      assert.match(textOf(posts[0]?.message), /Traffic on legacy; errors back to 0\.1%/);
      assert.match(textOf(replies[0]), /Update posted in <#C0INCIDENT> and to stakeholders in <#C0STATUS>/);
      const last = (await events()).at(-1);
      assert.equal(last?.kind, 'incident.status_update');
      assert.equal(last?.data?.sinceDeclaredMs, 12 * MIN);
      assert.equal((await t.bot.deps.incidents.get('INC-1'))?.lastUpdateAt, time.now().toISOString());
    });

    it('refuses an empty update and posts nothing', async () => {
      const before = t.chat.sent.length;
      const replies = await t.command('alice', '/incident', 'update   ');
      assert.match(textOf(replies[0]), /Write the update/);
      assert.equal(t.chat.sent.length, before);
    });

    it('needs an incident in the channel', async () => {
      const replies = await t.command('alice', '/incident', 'update all good', 'C0ELSEWHERE');
      assert.match(textOf(replies[0]), /This channel has no active incident/);
    });
  });

  describe('reminders (durable timers on the injected clock)', () => {
    function reminders() {
      return t.chat.sent.filter(
        (s) => s.kind === 'post' && /has had no status update/.test(s.message?.text ?? ''),
      );
    }

    it('reminds the commander and comms lead when a SEV1 goes 30 min without an update, and again after', async () => {
      await t.command('alice', '/incident', 'role comms <@U0CAROL|carol>');
      time.advance(29 * MIN);
      await tick();
      assert.equal(reminders().length, 0, 'not due yet');

      time.advance(2 * MIN);
      await tick();
      assert.equal(reminders().length, 1);
      assert.match(
        textOf(reminders()[0]?.message),
        /<@U0ALICE> <@U0CAROL> \*INC-1\* \(SEV1\) has had no status update yet for 31m/,
      );
      assert.equal((await events()).at(-1)?.kind, 'incident.update_reminder');

      time.advance(30 * MIN);
      await tick();
      assert.equal(reminders().length, 2, 'keeps reminding until someone posts');
    });

    it('an update pushes the next reminder back by updateEvery', async () => {
      time.advance(20 * MIN);
      await t.command('alice', '/incident', 'update investigating');
      time.advance(20 * MIN);
      await tick();
      assert.equal(reminders().length, 0, '20 min after the update');
      time.advance(11 * MIN);
      await tick();
      assert.equal(reminders().length, 1);
    });

    it('does not remind SEV3 and lower; raising it to SEV2 starts the reminders', async () => {
      await t.command('alice', '/incident', 'sev 3 contained');
      time.advance(45 * MIN);
      await tick();
      assert.equal(reminders().length, 0);

      await t.command('alice', '/incident', 'sev 2 back again');
      await tick();
      assert.equal(reminders().length, 1, 'overdue since the last update (none): reminded at once');
    });

    it('after resolve: no update reminders, one reminder to draft the post-mortem', async () => {
      await t.command('alice', '/incident', 'resolve traffic on legacy');
      time.advance(61 * MIN);
      await tick();
      assert.equal(reminders().length, 0);
      const pm = t.chat.sent.filter((s) => /Draft the post-mortem/.test(textOf(s.message)));
      assert.equal(pm.length, 1);
      assert.match(textOf(pm[0]?.message), /<@U0ALICE> \*INC-1\* was resolved 1h 1m ago/);
    });
  });

  describe('/incident list', () => {
    it('lists open incidents with service, severity, commander and steps done', async () => {
      await t.command('carol', '/incident', 'declare checkout sev=2 Checkout 502s', 'C0CHECKOUT');

      const replies = await t.command('bob', '/incident', 'list', 'C0ANYWHERE');

      const text = textOf(replies[0]);
      assert.match(replies[0]?.text ?? '', /2 open incident\(s\): INC-1 payments SEV1, INC-2 checkout SEV2/);
      assert.match(
        text,
        /\*INC-2\* · checkout · SEV2 · commander <@U0CAROL> · <#C0CHECKOUT> · steps done: none/,
      );
    });

    it('says so when nothing is open', async () => {
      await t.command('alice', '/incident', 'resolve');
      const replies = await t.command('alice', '/incident', 'list');
      assert.match(textOf(replies[0]), /No open incidents/);
    });
  });
});

describe('update reminders survive a restart (real Redis)', () => {
  let store: RedisStore;

  beforeEach(async () => {
    store = await isolatedRedisStore();
  });

  afterEach(async () => {
    await store.close();
  });

  it('a reminder armed by one bot fires on the next one', async () => {
    const time = clock();
    const first = makeTestBot({ config: config(), store, now: time.now });
    await first.command('alice', '/incident', 'declare payments sev=2 Slow checkout');
    await first.bot.stop();

    time.advance(31 * MIN);
    const chat = new RecordingChat();
    const second = makeTestBot({ config: config(), store, now: time.now, chat });
    await second.bot.deps.scheduler.tick();
    await second.bot.idle();

    const reminder = chat.sent.find((s) => /has had no status update/.test(s.message?.text ?? ''));
    assert.ok(reminder, 'the restarted bot reminds');
    assert.equal(reminder.channel, CHANNEL);
    await second.bot.stop();
  });
});

describe('the post-mortem shows roles, severity changes and updates', () => {
  it('lists them with the time to first update', async () => {
    const time = clock();
    const t = makeTestBot({ config: config(), now: time.now });
    await t.command('alice', '/incident', 'declare payments sev=2 Slow checkout');
    time.advance(5 * MIN);
    await t.command('alice', '/incident', 'role commander <@U0BOB|bob>');
    await t.command('bob', '/incident', 'sev 1 card payments failing too');
    time.advance(7 * MIN);
    await t.command('bob', '/incident', 'update Traffic on legacy');
    await t.command('bob', '/incident', 'resolve');

    await t.command('bob', '/postmortem');

    const upload = t.chat.sent.find((s) => s.kind === 'upload' && s.file?.filename.endsWith('.md'));
    assert.ok(upload?.file, 'the Markdown post-mortem was uploaded');
    const content = upload.file.content;
    const md = typeof content === 'string' ? readFileSync(content, 'utf8') : content.toString('utf8');
    assert.match(md, /## Roles, severity and updates/);
    assert.match(md, /Time to first status update: 12m/);
    assert.match(md, /role: alice handed commander of INC-1 from alice to bob/);
    assert.match(md, /severity: bob changed INC-1 from SEV2 to SEV1: card payments failing too/);
    assert.match(md, /update: bob posted an update on INC-1: Traffic on legacy/);
    await t.bot.stop();
  });
});
