// The PagerDuty adapter on the wire (nock): request bodies and headers, and every failure turned into a clear message.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import {
  PagerDutyError,
  PdjsPagerDuty,
  PdjsPagerDutyEvents,
  type PagerDuty,
} from '../../../src/adapters/pagerduty.ts';
import { ConfigError } from '../../../src/errors.ts';
import { useNock } from '../../support/nock.ts';
import { freePort } from '../../support/redis.ts';
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
} from '../../support/pagerduty.ts';

const HEADERS = {
  authorization: `Token token=${PD_TOKEN}`,
  from: PD_FROM,
  accept: 'application/vnd.pagerduty+json;version=2',
};

function pdApi() {
  let scope = nock(PD_API);
  for (const [name, value] of Object.entries(HEADERS)) scope = scope.matchHeader(name, value);
  return scope;
}

async function rejection(promise: Promise<unknown>): Promise<PagerDutyError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PagerDutyError, `a PagerDutyError, got ${String(err)}`);
    assert.doesNotMatch(err.message, new RegExp(PD_TOKEN.replace(/[+]/g, '\\+')), 'the token never shows');
    return err;
  }
  assert.fail('expected a rejection');
}

describe('PagerDuty adapter (pdjs, nock)', () => {
  useNock();
  let pd: PagerDuty;

  beforeEach(() => {
    pd = new PdjsPagerDuty({ token: PD_TOKEN, from: PD_FROM, retryTimeoutMs: 0 });
  });

  it('creates an incident with the From header, the service reference, urgency and incident key', async () => {
    let body: unknown;
    pdApi()
      .post('/incidents', (b) => {
        body = b;
        return true;
      })
      .reply(201, { incident: pdIncident({ title: '[INC-1] payments: Cloud pods OOM' }) });

    const created = await pd.createIncident({
      serviceId: PD_SERVICE,
      title: '[INC-1] payments: Cloud pods OOM',
      urgency: 'high',
      incidentKey: 'cloud-safety/INC-1/1795683600000',
      details: 'Declared in Slack by alice.',
    });

    assert.deepEqual(body, {
      incident: {
        type: 'incident',
        title: '[INC-1] payments: Cloud pods OOM',
        service: { id: PD_SERVICE, type: 'service_reference' },
        urgency: 'high',
        incident_key: 'cloud-safety/INC-1/1795683600000',
        body: { type: 'incident_body', details: 'Declared in Slack by alice.' },
      },
    });
    assert.deepEqual(created, {
      id: 'PT4KHLK',
      number: 1234,
      url: 'https://subdomain.pagerduty.com/incidents/PT4KHLK',
      title: '[INC-1] payments: Cloud pods OOM',
      status: 'triggered',
      serviceId: PD_SERVICE,
      serviceName: 'Payments API',
      urgency: 'high',
    });
  });

  it('adds a note, reads an incident, finds by incident key and resolves with a resolution', async () => {
    let noteBody: unknown;
    let resolveBody: unknown;
    pdApi()
      .post('/incidents/PT4KHLK/notes', (b) => {
        noteBody = b;
        return true;
      })
      .reply(201, pdNote('line one\nline two'));
    pdApi().get('/incidents/PT4KHLK').reply(200, { incident: pdIncident() });
    pdApi()
      .get('/incidents')
      .query({ incident_key: 'cloud-safety/INC-1/1', date_range: 'all' })
      .reply(200, pdIncidentList([pdIncident()]));
    pdApi()
      .put('/incidents/PT4KHLK', (b) => {
        resolveBody = b;
        return true;
      })
      .reply(200, { incident: pdIncident({ status: 'resolved' }) });

    assert.deepEqual(await pd.addNote('PT4KHLK', 'line one\nline two'), { id: 'PWL7QXS' });
    assert.deepEqual(noteBody, { note: { content: 'line one\nline two' } });
    assert.equal((await pd.getIncident('PT4KHLK')).number, 1234);
    assert.deepEqual(
      (await pd.findByIncidentKey('cloud-safety/INC-1/1')).map((i) => i.id),
      ['PT4KHLK'],
    );
    assert.equal((await pd.resolveIncident('PT4KHLK', 'traffic on legacy'))?.status, 'resolved');
    assert.deepEqual(resolveBody, {
      incident: { type: 'incident_reference', status: 'resolved', resolution: 'traffic on legacy' },
    });
  });

  it('treats resolving an incident someone already resolved as done', async () => {
    pdApi().put('/incidents/PT4KHLK').reply(400, PD_ERRORS.alreadyResolved);
    assert.equal(await pd.resolveIncident('PT4KHLK'), null);
  });

  it('says the token is wrong on 401, without retrying and without showing it', async () => {
    pdApi().post('/incidents').reply(401, PD_ERRORS.unauthorized);
    const err = await rejection(
      pd.createIncident({ serviceId: PD_SERVICE, title: 't', urgency: 'high', incidentKey: 'k' }),
    );
    assert.equal(err.status, 401);
    assert.equal(err.retryable, false);
    assert.equal(err.pagerdutyCode, 2006);
    assert.match(err.message, /PagerDuty rejected PAGERDUTY_TOKEN \(401 Authentication failed\)/);
    assert.match(err.message, /Create a REST API key/);
  });

  it('names the unknown incident on 404, and the unknown service when creating', async () => {
    pdApi().get('/incidents/PNOPE42').reply(404, PD_ERRORS.notFound);
    const missing = await rejection(pd.getIncident('PNOPE42'));
    assert.match(missing.message, /PagerDuty has no incident PNOPE42; copy the id from the incident's URL/);
    assert.equal(missing.retryable, false);

    pdApi().post('/incidents').reply(400, PD_ERRORS.serviceNotFound);
    const service = await rejection(
      pd.createIncident({ serviceId: 'PBADSVC', title: 't', urgency: 'low', incidentKey: 'k' }),
    );
    assert.match(service.message, /refused to create an incident on service PBADSVC/);
    assert.match(service.message, /Service not found/);
    assert.match(service.message, /check the service's pagerduty.serviceId/);
  });

  it('lets pdjs retry a 429 three times, then says it is rate limited and when to retry', async () => {
    for (let i = 0; i < 4; i++) {
      pdApi().post('/incidents/PT4KHLK/notes').reply(429, PD_ERRORS.rateLimited, {
        'ratelimit-limit': '960',
        'ratelimit-remaining': '0',
        'ratelimit-reset': '20',
      });
    }
    const err = await rejection(pd.addNote('PT4KHLK', 'x'));
    assert.equal(err.status, 429);
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfterMs, 20_000);
    assert.match(err.message, /rate limiting the bot \(429 Rate Limit Exceeded\); it retries in 20s/);
  });

  it('turns an HTML 503 (which pdjs rejects) and a dropped connection into retryable errors', async () => {
    pdApi().get('/incidents/PT4KHLK').reply(503, '<html><body>Service Unavailable</body></html>', {
      'content-type': 'text/html',
    });
    const outage = await rejection(pd.getIncident('PT4KHLK'));
    assert.equal(outage.status, 503);
    assert.equal(outage.retryable, true);
    assert.match(outage.message, /PagerDuty is failing \(HTTP 503\)/);

    // nock's replyWithError never settles under pdjs's node-fetch; a closed local port is a real refusal.
    const port = await freePort();
    const down = new PdjsPagerDuty({ token: PD_TOKEN, from: PD_FROM, apiUrl: `http://127.0.0.1:${port}` });
    const network = await rejection(down.getIncident('PT4KHLK'));
    assert.equal(network.retryable, true);
    assert.match(
      network.message,
      new RegExp(`Could not reach PagerDuty at 127.0.0.1:${port}/incidents/PT4KHLK \\(`),
    );
  });

  it('gives up when PagerDuty does not answer in time (pdjs has no working timeout of its own)', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const { port } = silent.address() as AddressInfo;
    const slow = new PdjsPagerDuty({
      token: PD_TOKEN,
      from: PD_FROM,
      apiUrl: `http://127.0.0.1:${port}`,
      timeoutMs: 100,
    });
    try {
      const err = await rejection(slow.addNote('PT4KHLK', 'x'));
      assert.equal(err.retryable, true);
      assert.match(err.message, /PagerDuty did not answer in time/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('talks to PAGERDUTY_API_URL when set (EU accounts)', async () => {
    const eu = new PdjsPagerDuty({ token: PD_TOKEN, from: PD_FROM, apiUrl: 'https://api.eu.pagerduty.com/' });
    nock('https://api.eu.pagerduty.com').get('/incidents/PT4KHLK').reply(200, { incident: pdIncident() });
    assert.equal((await eu.getIncident('PT4KHLK')).id, 'PT4KHLK');
  });

  it('refuses a From that is not an email and an events URL with a path, naming the variable', () => {
    assert.throws(
      () => new PdjsPagerDuty({ token: PD_TOKEN, from: 'bot' }),
      (err: unknown) =>
        err instanceof ConfigError && /PAGERDUTY_FROM="bot" is not an email/.test(err.message),
    );
    assert.throws(
      () => new PdjsPagerDutyEvents({ eventsUrl: 'https://events.pagerduty.com/v2/enqueue' }),
      /PAGERDUTY_EVENTS_URL=.* must be https:\/\/<host> with no path/,
    );
  });
});

describe('PagerDuty Events API v2 adapter (pdjs, nock)', () => {
  useNock();
  const events = new PdjsPagerDutyEvents({ retryTimeoutMs: 0 });

  it('triggers with the routing key, dedup key and payload, and returns the dedup key', async () => {
    let body: Record<string, unknown> = {};
    nock(PD_EVENTS)
      .post('/v2/enqueue', (b) => {
        body = b;
        return true;
      })
      .reply(202, EVENTS.accepted('cloud-safety/payments/breaker'));

    const result = await events.trigger({
      routingKey: ROUTING_KEY,
      summary: 'payments breaker tripped: memory 0.97 > 0.9',
      source: 'cloud-safety/payments',
      severity: 'critical',
      dedupKey: 'cloud-safety/payments/breaker',
      component: 'payments',
      class: 'circuit breaker trip',
      customDetails: { memory: 0.97 },
    });

    assert.deepEqual(result, { dedupKey: 'cloud-safety/payments/breaker' });
    const payload = body.payload as Record<string, unknown>;
    assert.match(String(payload.timestamp), /^\d{4}-\d\d-\d\dT/);
    delete payload.timestamp;
    assert.deepEqual(body, {
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'cloud-safety/payments/breaker',
      payload: {
        summary: 'payments breaker tripped: memory 0.97 > 0.9',
        source: 'cloud-safety/payments',
        severity: 'critical',
        component: 'payments',
        class: 'circuit breaker trip',
        custom_details: { memory: 0.97 },
      },
    });
  });

  it('uses PAGERDUTY_EVENTS_URL as the host', async () => {
    const eu = new PdjsPagerDutyEvents({ eventsUrl: 'https://events.eu.pagerduty.com' });
    nock('https://events.eu.pagerduty.com').post('/v2/enqueue').reply(202, EVENTS.accepted('abc'));
    assert.deepEqual(
      await eu.trigger({ routingKey: ROUTING_KEY, summary: 's', source: 'x', severity: 'critical' }),
      { dedupKey: 'abc' },
    );
  });

  it('explains an invalid event and points at the routing key, without showing it', async () => {
    nock(PD_EVENTS).post('/v2/enqueue').reply(400, EVENTS.invalid);
    const err = await rejection(
      events.trigger({ routingKey: 'short', summary: 's', source: 'x', severity: 'critical' }),
    );
    assert.equal(err.retryable, false);
    assert.match(
      err.message,
      /refused the trigger \(HTTP 400: Event object is invalid: Length of 'routing_key'/,
    );
    assert.match(err.message, /check the service's pagerduty.routingKey/);
  });

  it('calls an empty-bodied 429 (after pdjs retried it) a retryable rate limit or outage', async () => {
    for (let i = 0; i < 4; i++) nock(PD_EVENTS).post('/v2/enqueue').reply(429, '');
    const err = await rejection(
      events.trigger({ routingKey: ROUTING_KEY, summary: 's', source: 'x', severity: 'critical' }),
    );
    assert.equal(err.retryable, true);
    assert.match(err.message, /answered without a JSON body .* rate limiting \(429\) or failing/);
  });

  it('calls a 500 with a JSON error retryable', async () => {
    nock(PD_EVENTS)
      .post('/v2/enqueue')
      .reply(500, { status: 'Internal error', message: 'Something went wrong', errors: [] });
    const err = await rejection(
      events.trigger({ routingKey: ROUTING_KEY, summary: 's', source: 'x', severity: 'critical' }),
    );
    assert.equal(err.status, 500);
    assert.equal(err.retryable, true);
  });
});
