// The simulated PagerDuty on its wire, driven by the production adapters over @pagerduty/pdjs: REST incidents, notes
// and resolve with the From header checked and 429s with RateLimit headers; Events API v2 over TLS, ingested later.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PdjsPagerDuty, PdjsPagerDutyEvents, PagerDutyError } from '../../../src/adapters/pagerduty.ts';
import {
  DRILL_PD_FROM,
  DRILL_PD_SERVICE,
  startDrillPagerDuty,
  type DrillPagerDuty,
} from '../../../src/drill/pagerduty.ts';

describe('drill PagerDuty simulator (REST API v2 and Events API v2, through the pdjs adapters)', function () {
  // openssl makes the Events API's certificate; on a loaded machine that takes a moment.
  this.timeout(60_000);
  let clock: number;
  let pd: DrillPagerDuty;

  beforeEach(async () => {
    clock = Date.parse('2026-12-03T10:00:00Z');
    pd = await startDrillPagerDuty({ service: 'payments', ingestionMs: 2000, now: () => clock });
  });

  afterEach(async () => {
    await pd.server.stop();
  });

  function rest(from = DRILL_PD_FROM): PdjsPagerDuty {
    return new PdjsPagerDuty({
      token: pd.env.PAGERDUTY_TOKEN ?? '',
      from,
      apiUrl: pd.env.PAGERDUTY_API_URL ?? '',
      retryTimeoutMs: 5,
    });
  }

  it('creates, reads, notes and resolves an incident as /incident does, From header and all', async () => {
    const api = rest();

    const created = await api.createIncident({
      title: 'payments: cloud pods leaking memory',
      serviceId: DRILL_PD_SERVICE,
      urgency: 'high',
      incidentKey: 'cloud-safety:INC-1',
    });
    const read = await api.getIncident(created.id);
    const note = await api.addNote(created.id, 'Contained: legacy 100 / cloud 0');
    const byKey = await api.findByIncidentKey('cloud-safety:INC-1');
    const resolved = await api.resolveIncident(created.id, 'rolled back');
    const again = await api.resolveIncident(created.id);

    assert.match(created.id, /^P[A-Z0-9]{6}$/);
    assert.equal(read.title, 'payments: cloud pods leaking memory');
    assert.equal(read.serviceId, DRILL_PD_SERVICE);
    assert.match(note.id, /^P/);
    assert.deepEqual(
      byKey.map((i) => i.id),
      [created.id],
    );
    assert.equal(resolved?.status, 'resolved');
    // Resolving what PagerDuty already resolved answers 400 "Incident Already Resolved", which the adapter accepts.
    assert.equal(again, null);
    const writes = pd.server.requests.filter((r) => r.method !== 'GET');
    assert.ok(writes.every((r) => r.from === DRILL_PD_FROM));
    assert.deepEqual(
      pd.server.incidents[0]?.notes.map((n) => n.content),
      ['Contained: legacy 100 / cloud 0'],
    );
  });

  it('refuses a write whose From is not a user on the account, and a second open incident with the same key', async () => {
    await rest().createIncident({
      title: 't',
      serviceId: DRILL_PD_SERVICE,
      urgency: 'high',
      incidentKey: 'k1',
    });

    const stranger = await rest('someone@example.org')
      .createIncident({ title: 't', serviceId: DRILL_PD_SERVICE, urgency: 'high', incidentKey: 'k2' })
      .then(
        () => undefined,
        (e: unknown) => e as PagerDutyError,
      );
    const duplicate = await rest()
      .createIncident({ title: 't', serviceId: DRILL_PD_SERVICE, urgency: 'high', incidentKey: 'k1' })
      .then(
        () => undefined,
        (e: unknown) => e as PagerDutyError,
      );

    assert.ok(stranger instanceof PagerDutyError);
    assert.match(stranger.message, /Requester User Not Found/);
    assert.match(stranger.message, /PAGERDUTY_FROM must be the email of a PagerDuty user on this account/);
    assert.equal(duplicate?.duplicateKey, true);
    assert.equal(pd.server.incidents.length, 1);
  });

  it('answers 429 with RateLimit headers; pdjs retries, and past its retries the adapter says when to come back', async () => {
    pd.server.throttleNext(1);
    const first = await rest().findByIncidentKey('nothing');
    pd.server.throttleNext(4);

    const err = await rest()
      .findByIncidentKey('nothing')
      .then(
        () => undefined,
        (e: unknown) => e as PagerDutyError,
      );

    assert.deepEqual(first, []);
    assert.equal(pd.server.refused['rate-limited'], 5);
    assert.equal(err?.status, 429);
    assert.equal(err?.retryable, true);
    assert.match(
      err?.message ?? '',
      /PagerDuty is rate limiting the bot \(429 Rate Limit Exceeded\); it retries in \d+s/,
    );
  });

  it('Events API: 202 at once, the incident shows in REST only after the ingestion delay', async () => {
    const events = new PdjsPagerDutyEvents({
      eventsUrl: pd.env.PAGERDUTY_EVENTS_URL ?? '',
      ca: pd.env.PAGERDUTY_EVENTS_CA ?? '',
      retryTimeoutMs: 5,
    });

    const { dedupKey } = await events.trigger({
      routingKey: pd.env.PAYMENTS_PD_ROUTING_KEY ?? '',
      summary: 'payments breaker tripped: memory 0.97 > 0.8',
      source: 'cloud-safety',
      severity: 'critical',
      dedupKey: 'breaker:payments:1',
    });
    const before = await rest().findByIncidentKey(dedupKey);
    clock += 2000;
    const after = await rest().findByIncidentKey(dedupKey);

    assert.equal(dedupKey, 'breaker:payments:1');
    assert.deepEqual(before, []);
    assert.equal(after.length, 1);
    assert.equal(after[0]?.title, 'payments breaker tripped: memory 0.97 > 0.8');
    assert.equal(pd.server.requests.filter((r) => r.api === 'events').length, 1);
  });

  it('Events API refuses an unknown routing key, and its certificate is trusted only by the adapter given it', async () => {
    const trusted = new PdjsPagerDutyEvents({
      eventsUrl: pd.env.PAGERDUTY_EVENTS_URL ?? '',
      ca: pd.env.PAGERDUTY_EVENTS_CA ?? '',
    });
    const unknown = await trusted
      .trigger({ summary: 's', source: 'cloud-safety', severity: 'critical', routingKey: 'f'.repeat(32) })
      .then(
        () => undefined,
        (e: unknown) => e as PagerDutyError,
      );
    // TLS is checked in a plain Node process: nock's interceptors, loaded in this one, do not verify certificates.
    const script = `
      import { PdjsPagerDutyEvents } from ${JSON.stringify(new URL('../../../src/adapters/pagerduty.ts', import.meta.url).href)};
      const page = { summary: 's', source: 'x', severity: 'critical', routingKey: process.env.KEY };
      for (const ca of [process.env.CA, undefined]) {
        const events = new PdjsPagerDutyEvents({ eventsUrl: process.env.URL, ...(ca ? { ca } : {}) });
        console.log(await events.trigger(page).then(() => 'accepted', (e) => e.message));
      }`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: {
        PATH: process.env.PATH ?? '',
        KEY: pd.env.PAYMENTS_PD_ROUTING_KEY ?? '',
        CA: pd.env.PAGERDUTY_EVENTS_CA ?? '',
        URL: pd.env.PAGERDUTY_EVENTS_URL ?? '',
      },
    });
    const [withCa, withoutCa] = stdout.trim().split('\n');

    assert.match(
      unknown?.message ?? '',
      /PagerDuty Events API refused the trigger \(HTTP 400: Event object is invalid: Invalid routing key\); check the service's pagerduty.routingKey/,
    );
    assert.equal(withCa, 'accepted');
    assert.match(
      withoutCa ?? '',
      /Could not reach PagerDuty at 127\.0\.0\.1:\d+\/v2\/enqueue \(DEPTH_ZERO_SELF_SIGNED_CERT/,
    );
    assert.equal(pd.server.incidents.length, 1);
  });
});
