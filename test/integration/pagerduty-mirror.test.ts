// The PagerDuty mirror on real Redis with PagerDuty answered by nock: create or link, notes, outage, restart, resolve.
import assert from 'node:assert/strict';
import nock from 'nock';
import { PdjsPagerDuty } from '../../src/adapters/pagerduty.ts';
import type { MirrorOptions } from '../../flows/pagerduty/mirror.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { CHANNEL, makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import {
  EVENTS,
  PD_API,
  PD_ERRORS,
  PD_EVENTS,
  PD_FROM,
  PD_SERVICE,
  PD_TOKEN,
  ROUTING_KEY,
  pdIncident,
  pdIncidentList,
  pdNote,
} from '../support/pagerduty.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const ENV = { PAGERDUTY_TOKEN: PD_TOKEN, PAGERDUTY_FROM: PD_FROM, PAYMENTS_PD_ROUTING_KEY: ROUTING_KEY };
const OPTIONS: Partial<MirrorOptions> = {
  batchWindowMs: 0,
  minCallIntervalMs: 0,
  retryBaseMs: 60_000,
  retryMaxMs: 600_000,
  maxEventsPerNote: 20,
};
const T0 = Date.parse('2026-11-26T09:00:00Z');

function config() {
  return testConfig({
    services: {
      payments: { pagerduty: { serviceId: PD_SERVICE, routingKey: { env: 'PAYMENTS_PD_ROUTING_KEY' } } },
      checkout: {},
    },
  });
}

/** A PagerDuty REST scope that insists on the bot's credentials and From header. */
function pd() {
  return nock(PD_API)
    .matchHeader('authorization', `Token token=${PD_TOKEN}`)
    .matchHeader('from', PD_FROM)
    .matchHeader('accept', 'application/vnd.pagerduty+json;version=2');
}

interface Recorded {
  notes: { incident: string; content: string }[];
  order: string[];
  unexpected: string[];
}

/** Answers POST /incidents/{id}/notes once per call to `expectNote`, recording what was sent. */
function expectNote(rec: Recorded, incident = 'PT4KHLK', gate?: Promise<void>) {
  pd()
    .post(`/incidents/${incident}/notes`)
    // nock 15 hands the reply function the Fetch Request and awaits what it returns.
    .reply(201, async (request: Request) => {
      const content = ((await request.json()) as { note: { content: string } }).note.content;
      rec.notes.push({ incident, content });
      rec.order.push(`note ${incident}`);
      if (gate) await gate;
      return pdNote(content);
    });
}

function expectCreate(rec: Recorded, bodies: unknown[] = []) {
  pd()
    .post('/incidents', (body) => {
      bodies.push(body);
      return true;
    })
    .reply(201, () => {
      rec.order.push('create');
      return { incident: pdIncident({ title: '[INC-1] payments: Cloud pods OOMKilled' }) };
    });
}

/** Every event summary that reached PagerDuty, one per line, without the note headers. */
function mirroredLines(rec: Recorded): string[] {
  return rec.notes.flatMap((n) => n.content.split('\n').slice(1));
}

describe('PagerDuty mirror (real Redis, nock)', () => {
  useNock();
  let store: RedisStore;
  let clock: number;
  let rec: Recorded;
  const onNoMatch = (req: { method?: string; path?: string }) =>
    rec.unexpected.push(`${req.method} ${req.path}`);

  beforeEach(async () => {
    store = await isolatedRedisStore();
    clock = T0;
    rec = { notes: [], order: [], unexpected: [] };
    nock.emitter.on('no match', onNoMatch);
  });

  afterEach(async () => {
    nock.emitter.removeListener('no match', onNoMatch);
    await store.close();
  });

  function bot(
    extra: { instanceId?: string; env?: NodeJS.ProcessEnv; options?: Partial<MirrorOptions> } = {},
  ) {
    return makeTestBot({
      store,
      config: config(),
      env: extra.env ?? ENV,
      now: () => new Date(clock),
      pagerdutyMirror: { ...OPTIONS, ...extra.options },
      ...(extra.instanceId ? { instanceId: extra.instanceId } : {}),
    });
  }

  async function record(t: TestBot, incident: string, summaries: string[]) {
    for (const summary of summaries) {
      clock += 1000;
      await t.bot.deps.incidents.record(incident, {
        step: 'L',
        kind: 'test.note',
        actor: { type: 'user', id: 'U0CAROL', name: 'carol' },
        summary,
      });
    }
  }

  it('declare creates the PagerDuty incident (title, urgency, key), links it in the one headline, mirrors the declaration', async () => {
    const t = bot();
    const bodies: unknown[] = [];
    expectCreate(rec, bodies);
    expectNote(rec);

    const replies = await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');

    assert.match(textOf(replies[0]), /Declared \*INC-1\*.*PagerDuty: opening an incident on service PWIXJZS/);
    assert.deepEqual(bodies, [
      {
        incident: {
          type: 'incident',
          title: '[INC-1] payments: Cloud pods OOMKilled',
          service: { id: PD_SERVICE, type: 'service_reference' },
          urgency: 'high',
          incident_key: `cloud-safety/INC-1/${T0}`,
          body: {
            type: 'incident_body',
            details:
              'Declared in Slack by alice at 2026-11-26 09:00:00Z (SEV1).\ncloud-safety INC-1 on payments: its timeline is mirrored here as notes.',
          },
        },
      },
    ]);
    const incident = await t.bot.deps.incidents.get('INC-1');
    assert.deepEqual(incident?.pagerduty, {
      id: 'PT4KHLK',
      url: 'https://subdomain.pagerduty.com/incidents/PT4KHLK',
      number: 1234,
    });
    assert.equal(t.chat.sent.filter((s) => s.kind === 'post').length, 1, 'exactly one headline');
    assert.ok(incident?.headline);
    assert.match(
      textOf(t.chat.latest(incident.headline)),
      /<https:\/\/subdomain.pagerduty.com\/incidents\/PT4KHLK\|#1234>/,
    );
    assert.equal(rec.notes.length, 1);
    assert.match(
      rec.notes[0]?.content ?? '',
      /^cloud-safety INC-1 timeline, 2026-11-26 UTC \(1 event\)\n09:00:00Z - alice: alice declared INC-1 on payments \(SEV1\): Cloud pods OOMKilled$/,
    );
    const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.deepEqual(kinds, ['incident.declared', 'pagerduty.created']);
    const metrics = await t.bot.deps.metrics.registry.metrics();
    assert.match(
      metrics,
      /adapter_call_seconds_count\{adapter="pagerduty",operation="create_incident",outcome="ok"\} 1/,
    );
    assert.deepEqual(rec.unexpected, []);
  });

  it('batches a burst into few notes and never blocks the commands that made it', async () => {
    const t = bot();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    expectCreate(rec);
    expectNote(rec, 'PT4KHLK', gate); // PagerDuty is slow on the first note
    expectNote(rec);
    expectNote(rec);
    // The command returns although the mirror is stuck in PagerDuty: declare must not wait for it.
    const declared = t.bot.handleCommand({
      command: '/incident',
      text: 'declare payments',
      user: { id: 'U0ALICE', name: 'alice' },
      channel: CHANNEL,
      respond: async () => {},
    });
    assert.equal(await declared, 'ok');
    while (rec.notes.length === 0) await new Promise((r) => setTimeout(r, 5));

    const burst = Array.from(
      { length: 30 },
      (_, i) => `heap dump ${i + 1} of payments-7f9c streamed xoxb-1234-5678-secret`,
    );
    await record(t, 'INC-1', burst);
    release();
    await t.bot.idle();

    assert.equal(rec.notes.length, 3, 'declaration, then 30 events as 20 + 10');
    assert.match(rec.notes[1]?.content ?? '', /\(20 events\)/);
    assert.match(rec.notes[2]?.content ?? '', /\(10 events\)/);
    const lines = mirroredLines(rec);
    assert.equal(lines.length, 31);
    assert.equal(new Set(lines).size, 31, 'no event mirrored twice');
    assert.ok(
      lines.every((l) => !l.includes('xoxb-1234')),
      'secrets are redacted before they leave',
    );
    const state = await t.bot.deps.pagerduty.state('INC-1');
    assert.equal(state.mirrored, 31);
    assert.equal(state.notes, 3);
  });

  it('keeps commands working through a PagerDuty outage, shows it in /incident status, then catches up exactly once', async () => {
    const t = bot();
    expectCreate(rec);
    pd()
      .post('/incidents/PT4KHLK/notes')
      .reply(503, '<html><body><h1>503 Service Unavailable</h1></body></html>', {
        'content-type': 'text/html',
      });

    const replies = await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    assert.match(textOf(replies[0]), /Declared \*INC-1\*/);
    await record(t, 'INC-1', ['carol: OOMKilled x3 on payments-7f9c', 'carol: restarts climbing']);
    assert.deepEqual(rec.unexpected, [], 'no call while backing off');

    const status = await t.command('carol', '/incident', 'status');
    const text = textOf(status[0]);
    assert.match(text, /#1234/);
    assert.match(text, /notes: 0 events in 0 notes, 3 waiting/);
    assert.match(
      text,
      /mirror paused since 2026-11-26 09:00:00Z \(1 try\), next try in 58s: PagerDuty is failing \(HTTP 503\)/,
    );
    const paused = (await t.bot.deps.timeline.read('INC-1')).filter(
      (e) => e.kind === 'pagerduty.unavailable',
    );
    assert.equal(paused.length, 1, 'the pause is on the timeline once');

    clock += 60_000;
    expectNote(rec);
    await t.bot.deps.pagerduty.tick();
    await t.bot.idle();

    assert.deepEqual(
      mirroredLines(rec).map((l) => l.replace(/^\S+ \S+ /, '')),
      [
        'alice: alice declared INC-1 on payments (SEV1): Cloud pods OOMKilled',
        'carol: carol: OOMKilled x3 on payments-7f9c',
        'carol: carol: restarts climbing',
      ],
    );
    const after = textOf((await t.command('carol', '/incident', 'status'))[0]);
    assert.match(after, /notes: 3 events in 1 note, up to date/);
    assert.doesNotMatch(after, /paused/);
    const kinds = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
    assert.ok(kinds.includes('pagerduty.recovered'));
  });

  it('backs off for as long as a 429 says (ratelimit-reset) and names the rate limit', async () => {
    const t = makeTestBot({
      store,
      config: config(),
      env: ENV,
      now: () => new Date(clock),
      pagerdutyMirror: { ...OPTIONS, retryBaseMs: 1000 },
      adapters: { pagerduty: new PdjsPagerDuty({ token: PD_TOKEN, from: PD_FROM, retryTimeoutMs: 0 }) },
    });
    expectCreate(rec);
    for (let i = 0; i < 4; i++) {
      pd()
        .post('/incidents/PT4KHLK/notes')
        .reply(429, PD_ERRORS.rateLimited, { 'ratelimit-reset': '45', 'ratelimit-remaining': '0' });
    }
    await t.command('alice', '/incident', 'declare payments');
    const state = await t.bot.deps.pagerduty.state('INC-1');
    assert.equal(state.failure?.status, 429);
    assert.equal(state.failure?.nextAttemptAt, new Date(T0 + 45_000).toISOString());
    assert.match(
      state.failure?.message ?? '',
      /rate limiting the bot \(429 Rate Limit Exceeded\); it retries in 45s/,
    );
  });

  it('after a restart, another replica takes the lease and mirrors from the cursor; only one replica mirrors at a time', async () => {
    const a = bot({ instanceId: 'replica-a' });
    expectCreate(rec);
    expectNote(rec);
    await a.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled');
    assert.equal(rec.notes.length, 1);

    // Replica B handles commands while A holds the lease: B must not touch PagerDuty.
    const b = bot({ instanceId: 'replica-b' });
    await record(b, 'INC-1', ['carol: heap at 97%', 'carol: thread dump taken']);
    await b.bot.deps.pagerduty.tick();
    await b.bot.idle();
    assert.deepEqual(rec.unexpected, []);
    assert.equal(rec.notes.length, 1);

    // A dies; its lease lapses (deleted here instead of waiting 30 s); B's next tick catches up.
    await store.del('pagerduty:mirror:lease');
    expectNote(rec);
    await b.bot.deps.pagerduty.tick();
    await b.bot.idle();

    assert.equal(rec.notes.length, 2);
    assert.deepEqual(
      rec.notes[1]?.content
        .split('\n')
        .slice(1)
        .map((l) => l.replace(/^\S+ \S+ /, '')),
      ['carol: carol: heap at 97%', 'carol: carol: thread dump taken'],
    );
    assert.match((await store.get('pagerduty:mirror:lease')) ?? '', /^\d+\|replica-b$/, 'B holds it now');
  });

  it('resolve sends the last notes, then resolves PagerDuty with the resolution; status still shows it', async () => {
    const t = bot();
    expectCreate(rec);
    expectNote(rec);
    await t.command('alice', '/incident', 'declare payments');
    expectNote(rec);
    let resolveBody: unknown;
    pd()
      .put('/incidents/PT4KHLK', (body) => {
        resolveBody = body;
        return true;
      })
      .reply(200, () => {
        rec.order.push('resolve');
        return { incident: pdIncident({ status: 'resolved' }) };
      });

    clock += 40 * 60_000;
    const replies = await t.command('alice', '/incident', 'resolve traffic on legacy, cloud drained');

    assert.match(textOf(replies[0]), /PagerDuty #1234 gets the last notes and is resolved in the background/);
    assert.deepEqual(rec.order, ['create', 'note PT4KHLK', 'note PT4KHLK', 'resolve']);
    assert.match(rec.notes[1]?.content ?? '', /alice resolved INC-1: traffic on legacy, cloud drained/);
    assert.deepEqual(resolveBody, {
      incident: {
        type: 'incident_reference',
        status: 'resolved',
        resolution: 'Resolved in Slack (cloud-safety INC-1): traffic on legacy, cloud drained',
      },
    });
    const status = textOf((await t.command('alice', '/incident', 'status'))[0]);
    assert.match(status, /RESOLVED INC-1/);
    assert.match(status, /resolved in PagerDuty/);
  });

  it('links an existing incident with /incident link, copies the whole timeline there, and checks input first', async () => {
    const t = bot();
    await t.command('alice', '/incident', 'declare checkout');
    const noService = textOf((await t.command('alice', '/incident', 'status'))[0]);
    assert.match(
      noService,
      /not linked: no pagerduty.serviceId for checkout; `\/incident link <id>` attaches one/,
    );

    for (const [text, message] of [
      ['link', /Give exactly one PagerDuty incident id/],
      ['link PT4 KHLK', /Give exactly one PagerDuty incident id/],
      ['link not-an-id!', /"not-an-id!" is not a PagerDuty incident id; give the id from the incident's URL/],
    ] as const) {
      assert.match(textOf((await t.command('alice', '/incident', text))[0]), message);
    }
    assert.deepEqual(rec.unexpected, [], 'bad input never reaches PagerDuty');

    pd().get('/incidents/PNOPE42').reply(404, PD_ERRORS.notFound);
    const missing = textOf((await t.command('alice', '/incident', 'link PNOPE42'))[0]);
    assert.match(
      missing,
      /PagerDuty failed: PagerDuty has no incident PNOPE42; copy the id from the incident's URL/,
    );
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.pagerduty, undefined, 'nothing changed');

    pd()
      .get('/incidents/PT4KHLK')
      .reply(200, { incident: pdIncident({ status: 'acknowledged' }) });
    expectNote(rec);
    const reply = (
      await t.command('carol', '/incident', 'link https://subdomain.pagerduty.com/incidents/PT4KHLK')
    )[0];
    // The link is drawn in the blocks; the plain-text fallback escapes every < and > (see src/chat/redacting.ts).
    const linked = (reply?.blocks ?? [])
      .map((b) => (b.text as { text?: string } | undefined)?.text ?? '')
      .join('\n');
    assert.match(
      textOf(reply),
      /PagerDuty &lt;https:\/\/subdomain.pagerduty.com\/incidents\/PT4KHLK\|#1234&gt;/,
    );
    assert.match(
      linked,
      // The fallback text carries no links (escaped like user text); the blocks do.
      /Linked \*INC-1\* to PagerDuty <https:\/\/subdomain.pagerduty.com\/incidents\/PT4KHLK\|#1234> "The server is on fire." \(acknowledged\)/,
    );
    const lines = mirroredLines(rec);
    assert.equal(
      lines.length,
      1,
      'the timeline so far: the declaration (pagerduty.* events are not echoed back)',
    );
    assert.match(lines[0] ?? '', /alice declared INC-1 on checkout/);
    const events = await t.bot.deps.timeline.read('INC-1');
    assert.match(
      events.find((e) => e.kind === 'pagerduty.linked')?.summary ?? '',
      /carol linked INC-1 to PagerDuty #1234 \(PT4KHLK\)/,
    );
    const again = textOf((await t.command('carol', '/incident', 'link PT4KHLK'))[0]);
    assert.match(again, /already linked to PagerDuty #1234 \(PT4KHLK\); nothing changed/);
  });

  it('refuses to link a resolved PagerDuty incident, and says PagerDuty is not set up when it is not', async () => {
    const t = bot();
    await t.command('alice', '/incident', 'declare checkout');
    pd()
      .get('/incidents/POLD123')
      .reply(200, { incident: pdIncident({ id: 'POLD123', status: 'resolved' }) });
    const resolved = textOf((await t.command('alice', '/incident', 'link POLD123'))[0]);
    assert.match(
      resolved,
      /is already resolved; link an open incident, or reopen it in PagerDuty first. Nothing changed./,
    );

    const off = makeTestBot({ store, config: config(), env: {}, pagerdutyMirror: OPTIONS });
    await off.command('alice', '/incident', 'declare payments', 'C0OTHER');
    const reply = textOf((await off.command('alice', '/incident', 'link PT4KHLK', 'C0OTHER'))[0]);
    assert.match(reply, /PagerDuty is not set up here: set PAGERDUTY_TOKEN .* and PAGERDUTY_FROM/);
    assert.deepEqual(rec.unexpected, []);
  });

  it('linking over the incident the bot created resolves that one as a duplicate', async () => {
    const t = bot();
    expectCreate(rec);
    expectNote(rec);
    await t.command('alice', '/incident', 'declare payments');
    pd()
      .get('/incidents/PABC123')
      .reply(200, { incident: pdIncident({ id: 'PABC123', number: 1240 }) });
    expectNote(rec, 'PABC123');
    expectNote(rec, 'PT4KHLK');
    let dupResolve: unknown;
    pd()
      .put('/incidents/PT4KHLK', (body) => {
        dupResolve = body;
        return true;
      })
      .reply(200, () => {
        rec.order.push('resolve PT4KHLK');
        return { incident: pdIncident({ status: 'resolved' }) };
      });

    const reply = textOf((await t.command('alice', '/incident', 'link PABC123'))[0]);

    assert.match(reply, /It replaces #1234/);
    assert.match(
      rec.notes.find((n) => n.incident === 'PT4KHLK' && /Duplicate/.test(n.content))?.content ?? '',
      /now linked to PagerDuty #1240 \(PABC123\)/,
    );
    assert.deepEqual(dupResolve, {
      incident: {
        type: 'incident_reference',
        status: 'resolved',
        resolution: 'Duplicate of #1240 (PABC123) (cloud-safety INC-1)',
      },
    });
    const copied = rec.notes
      .filter((n) => n.incident === 'PABC123')
      .flatMap((n) => n.content.split('\n').slice(1));
    assert.equal(copied.length, 1);
    assert.match(copied[0] ?? '', /alice declared INC-1/);
    assert.equal((await t.bot.deps.pagerduty.state('INC-1')).superseded, undefined);
  });

  it('declare pagerduty=<id> links that incident instead of paging a new one', async () => {
    const t = bot();
    pd()
      .get('/incidents/PEXIST1')
      .reply(200, { incident: pdIncident({ id: 'PEXIST1', number: 1300 }) });
    expectNote(rec, 'PEXIST1');
    const replies = await t.command('alice', '/incident', 'declare payments pagerduty=PEXIST1 Checkout 502s');
    assert.match(textOf(replies[0]), /PagerDuty: linking PEXIST1/);
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.pagerduty?.id, 'PEXIST1');
    assert.deepEqual(rec.unexpected, [], 'no POST /incidents');
    const bad = await t.command('alice', '/incident', 'declare checkout pagerduty=nope!', 'C0OTHER');
    assert.match(textOf(bad[0]), /"nope!" is not a PagerDuty incident id/);
    assert.equal(await t.bot.deps.incidents.active('C0OTHER'), null);
  });

  it('a 401 on create never fails declare: the status says the token is wrong, and the mirror retries rarely', async () => {
    const t = bot();
    pd().post('/incidents').reply(401, PD_ERRORS.unauthorized);
    const replies = await t.command('alice', '/incident', 'declare payments');
    assert.match(textOf(replies[0]), /Declared \*INC-1\*/);
    const status = textOf((await t.command('alice', '/incident', 'status'))[0]);
    assert.match(status, /creating on service PWIXJZS…/);
    assert.match(status, /next try in 10m: PagerDuty rejected PAGERDUTY_TOKEN \(401 Authentication failed\)/);
    const state = await t.bot.deps.pagerduty.state('INC-1');
    assert.equal(state.failure?.retryable, false);
  });

  it('does not page for an incident resolved while PagerDuty was unreachable', async () => {
    const t = bot();
    pd()
      .post('/incidents')
      .reply(503, { error: { message: 'Service Unavailable', code: 2000 } });
    await t.command('alice', '/incident', 'declare payments');
    await t.command('alice', '/incident', 'resolve false alarm');
    // The retry comes due after the incident is over: it looks for the first create, and never sends a second.
    clock += 120_000;
    pd()
      .get('/incidents')
      .query({ incident_key: `cloud-safety/INC-1/${T0}`, date_range: 'all' })
      .reply(200, pdIncidentList([]));
    await t.bot.deps.pagerduty.tick();
    await t.bot.idle();
    assert.deepEqual(rec.unexpected, [], 'no second POST /incidents');
    const status = textOf((await t.command('alice', '/incident', 'status'))[0]);
    assert.match(
      status,
      /not linked: resolved before a PagerDuty incident could be created, so nobody was paged/,
    );
  });

  it('resolves the incident a lost create answer made even when the Slack side is already resolved', async () => {
    const t = bot();
    pd()
      .post('/incidents')
      .reply(504, { error: { message: 'Gateway Timeout', code: 2000 } });
    await t.command('alice', '/incident', 'declare payments');
    await t.command('alice', '/incident', 'resolve false alarm');
    clock += 120_000;
    pd()
      .get('/incidents')
      .query({ incident_key: `cloud-safety/INC-1/${T0}`, date_range: 'all' })
      .reply(200, pdIncidentList([pdIncident()]));
    expectNote(rec);
    pd()
      .put('/incidents/PT4KHLK')
      .reply(200, () => {
        rec.order.push('resolve');
        return { incident: pdIncident({ status: 'resolved' }) };
      });
    await t.bot.deps.pagerduty.tick();
    await t.bot.idle();
    assert.deepEqual(rec.order, ['note PT4KHLK', 'resolve']);
    assert.match(rec.notes[0]?.content ?? '', /alice resolved INC-1: false alarm/);
    assert.deepEqual(rec.unexpected, []);
  });

  it('finds the incident a lost create answer made, by incident key, instead of paging twice', async () => {
    const t = bot();
    pd()
      .post('/incidents')
      .reply(502, { error: { message: 'Bad Gateway', code: 2000 } });
    await t.command('alice', '/incident', 'declare payments');
    assert.equal((await t.bot.deps.pagerduty.state('INC-1')).createAttempted, true);

    clock += 60_000;
    pd()
      .get('/incidents')
      .query({ incident_key: `cloud-safety/INC-1/${T0}`, date_range: 'all' })
      .reply(200, pdIncidentList([pdIncident()]));
    expectNote(rec);
    await t.bot.deps.pagerduty.tick();
    await t.bot.idle();
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.pagerduty?.id, 'PT4KHLK');
    assert.deepEqual(rec.unexpected, [], 'no second POST /incidents');
    const created = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'pagerduty.created');
    assert.match(created?.summary ?? '', /PagerDuty incident #1234 \(PT4KHLK\) found on service PWIXJZS/);
  });

  it('the breaker pages through Events API v2 only when no incident is open, and declare then links that page', async () => {
    const t = bot();
    let body: Record<string, unknown> = {};
    nock(PD_EVENTS)
      .post('/v2/enqueue', (b) => {
        body = b;
        return true;
      })
      .reply(202, EVENTS.accepted('cloud-safety/payments/breaker'));

    const paged = await t.bot.deps.pagerduty.triggerForBreaker({
      service: 'payments',
      summary: 'payments breaker tripped: memory 0.97 > 0.90; traffic shifted to legacy',
      details: { memory: 0.97, threshold: 0.9 },
    });
    assert.deepEqual(paged, { paged: true, dedupKey: 'cloud-safety/payments/breaker' });
    assert.equal(body.routing_key, ROUTING_KEY);
    assert.equal(body.dedup_key, 'cloud-safety/payments/breaker');
    assert.deepEqual((body.payload as Record<string, unknown>).custom_details, {
      memory: 0.97,
      threshold: 0.9,
    });

    const none = await t.bot.deps.pagerduty.triggerForBreaker({ service: 'checkout', summary: 'x' });
    assert.deepEqual(none, { paged: false, reason: 'no pagerduty.routingKey configured for checkout' });

    pd()
      .get('/incidents')
      .query({ incident_key: 'cloud-safety/payments/breaker', date_range: 'all' })
      .reply(200, pdIncidentList([pdIncident({ id: 'PBRK001', number: 1301 })]));
    expectNote(rec, 'PBRK001');
    await t.command('alice', '/incident', 'declare payments');
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.pagerduty?.id, 'PBRK001');

    const open = await t.bot.deps.pagerduty.triggerForBreaker({ service: 'payments', summary: 'again' });
    assert.deepEqual(open, {
      paged: false,
      reason: 'incident INC-1 is open for payments',
      incident: 'INC-1',
    });
    assert.deepEqual(rec.unexpected, []);
  });
});
