// Race: `/incident declare … pagerduty=<id>` hands its link request over while the mirror's first pass is reading it.
import assert from 'node:assert/strict';
import nock from 'nock';
import { MemoryStore } from '../../src/store/memory.ts';
import { CHANNEL, makeTestBot, testConfig, textOf } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { PD_API, PD_FROM, PD_SERVICE, PD_TOKEN, pdIncident, pdNote } from '../support/pagerduty.ts';

/** A store that runs `beforeRead` once, right before the mirror reads the channel's link request. */
class InterleavingStore extends MemoryStore {
  beforeRead: (() => Promise<void>) | undefined;
  override async get(key: string): Promise<string | null> {
    const hook = key === `pagerduty:link-request:${CHANNEL}` ? this.beforeRead : undefined;
    if (hook) {
      this.beforeRead = undefined;
      await hook();
    }
    return super.get(key);
  }
}

describe('faults: PagerDuty link request handed over during the mirror’s first pass', () => {
  useNock();

  it('links the incident asked for; it never pages a second one', async () => {
    const store = new InterleavingStore();
    const t = makeTestBot({
      store,
      config: testConfig({ services: { payments: { pagerduty: { serviceId: PD_SERVICE } }, checkout: {} } }),
      env: { PAGERDUTY_TOKEN: PD_TOKEN, PAGERDUTY_FROM: PD_FROM },
      pagerdutyMirror: { batchWindowMs: 0, minCallIntervalMs: 0 },
    });
    const unexpected: string[] = [];
    const onNoMatch = (req: { method?: string; url?: string; path?: string }) =>
      unexpected.push(`${req.method} ${req.url ?? req.path}`);
    nock.emitter.on('no match', onNoMatch);
    nock(PD_API)
      .get('/incidents/PEXIST1')
      .reply(200, { incident: pdIncident({ id: 'PEXIST1', number: 1300 }) });
    nock(PD_API).post('/incidents/PEXIST1/notes').reply(201, pdNote('cloud-safety INC-1 timeline'));
    // The mirror's pass has read the incident's state (no request on it yet); the command now moves the channel's
    // request onto that state and deletes it from the channel, just before the pass looks at the channel.
    store.beforeRead = async () => {
      const incident = await t.bot.deps.incidents.get('INC-1');
      assert.ok(incident);
      await t.bot.deps.pagerduty.requestLink(incident, 'PEXIST1');
    };
    try {
      const [reply] = await t.command(
        'alice',
        '/incident',
        'declare payments pagerduty=PEXIST1 Checkout 502s',
      );
      assert.match(textOf(reply), /PagerDuty: linking PEXIST1/);
      await t.bot.idle();
    } finally {
      nock.emitter.removeListener('no match', onNoMatch);
    }
    assert.equal(store.beforeRead, undefined, 'the interleaving happened');
    assert.deepEqual(unexpected, [], 'no POST /incidents: nobody was paged a second time');
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.pagerduty?.id, 'PEXIST1');
  });
});
