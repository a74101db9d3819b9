// Alerts in: real Alertmanager v4 and Grafana webhook payloads over HTTP into the real bot (real Redis).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { Server } from 'node:http';
import { STALE_CLAIM_MS } from '../../flows/integrations/alerts.ts';
import { integrationRoutes } from '../../flows/integrations/routes.ts';
import { startHealthServer } from '../../src/http.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { makeTestBot, testConfig, type TestBot } from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';

const TOKEN = 'cs-hook-token-9f3e1a7b';
const HMAC = 'cs-hmac-secret-4c2d8e';
const PAYMENTS_CHANNEL = 'C0PAYMENTS';
const CHECKOUT_CHANNEL = 'C0CHECKOUT';

function config() {
  return testConfig({
    integrations: { token: { env: 'CS_API_TOKEN' }, hmacSecret: { env: 'CS_HMAC' } },
    services: {
      payments: {
        channel: PAYMENTS_CHANNEL,
        alerts: { match: { service: 'payments', severity: ['critical', 'page'] }, severity: 'SEV1' },
      },
      checkout: { channel: CHECKOUT_CHANNEL, alerts: { match: { app: 'checkout' } } },
    },
  });
}

/** An Alertmanager v4 notification as it sends it (docs' example with our labels). */
function alertmanager(
  status: 'firing' | 'resolved',
  alerts: { name: string; fingerprint?: string; labels?: Record<string, string>; startsAt?: string }[],
) {
  const items = alerts.map((a) => ({
    status,
    labels: { alertname: a.name, service: 'payments', severity: 'critical', ...a.labels },
    annotations: { summary: `${a.name} on payments-api`, description: 'p99 over 2s for 5m' },
    startsAt: a.startsAt ?? '2026-12-03T09:00:00.000Z',
    endsAt: status === 'resolved' ? '2026-12-03T09:30:00.000Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example.org:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1',
    ...(a.fingerprint ? { fingerprint: a.fingerprint } : {}),
  }));
  return {
    receiver: 'cloud-safety',
    status,
    alerts: items,
    groupLabels: { alertname: alerts[0]?.name ?? '' },
    commonLabels: { service: 'payments', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example.org:9093',
    version: '4',
    groupKey: '{}/{service="payments"}:{alertname="HighLatency"}',
    truncatedAlerts: 0,
  };
}

/** Grafana's webhook contact point body (Grafana docs' example, our labels). */
function grafana(status: 'firing' | 'resolved', fingerprint: string) {
  return {
    receiver: 'cloud-safety',
    status,
    orgId: 1,
    alerts: [
      {
        status,
        labels: { alertname: 'CheckoutErrors', app: 'checkout', grafana_folder: 'SRE' },
        annotations: { summary: '5xx ratio over 5%' },
        startsAt: '2026-12-03T10:00:00+01:00',
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'https://grafana.example.org/alerting/grafana/abc123/view',
        fingerprint,
        silenceURL: 'https://grafana.example.org/alerting/silence/new',
        dashboardURL: '',
        panelURL: '',
        values: { B: 0.07, C: 1 },
        valueString: "[ var='B' labels={app=checkout} value=0.07 ]",
      },
    ],
    groupLabels: { alertname: 'CheckoutErrors' },
    commonLabels: { alertname: 'CheckoutErrors', app: 'checkout' },
    commonAnnotations: {},
    externalURL: 'https://grafana.example.org/',
    version: '1',
    groupKey: '{}:{alertname="CheckoutErrors"}',
    truncatedAlerts: 0,
    title: '[FIRING:1] CheckoutErrors SRE (checkout)',
    state: 'alerting',
    message: '**Firing**\n\nValue: B=0.07',
  };
}

describe('alert receivers (POST /hooks/alertmanager, /hooks/grafana)', () => {
  let store: RedisStore;
  let t: TestBot;
  let server: Server;
  let base: string;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    const env = { CS_API_TOKEN: TOKEN, CS_HMAC: HMAC };
    t = makeTestBot({ store, config: config(), env });
    const started = await startHealthServer(integrationRoutes(t.bot.deps, env), 0, '127.0.0.1');
    server = started.server;
    base = `http://127.0.0.1:${started.port}`;
  });

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.bot.stop();
    await store.close();
  });

  function post(path: string, body: unknown, headers: Record<string, string> = {}) {
    return fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  async function kinds(incident: string): Promise<string[]> {
    return (await t.bot.deps.timeline.read(incident)).map((e) => e.kind);
  }

  it('declares in the service channel on the first firing alert, then ignores the repeat notification', async () => {
    const res = await post(
      '/hooks/alertmanager',
      alertmanager('firing', [{ name: 'HighLatency', fingerprint: 'a1b2c3d4e5f60718' }]),
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(body, {
      received: 1,
      declared: ['INC-1'],
      attached: [],
      resolved: [],
      duplicates: 0,
      unmatched: 0,
      truncated: 0,
    });
    const incident = await t.bot.deps.incidents.active(PAYMENTS_CHANNEL);
    assert.equal(incident?.id, 'INC-1');
    assert.equal(incident?.service, 'payments');
    assert.equal(incident?.severity, 'SEV1');
    assert.equal(incident?.commander.name, 'Alertmanager');
    assert.match(incident?.title ?? '', /^HighLatency: HighLatency on payments-api/);
    await t.bot.idle();
    assert.ok(
      t.chat.sent.some((s) => s.kind === 'post' && s.channel === PAYMENTS_CHANNEL),
      'headline posted',
    );
    const events = await t.bot.deps.timeline.read('INC-1');
    assert.deepEqual(
      events.map((e) => e.kind),
      ['incident.declared', 'alert.firing'],
    );
    assert.equal(events[1]?.data.fingerprint, 'a1b2c3d4e5f60718');
    assert.equal(events[1]?.data.source, 'alertmanager');

    // Alertmanager re-sends the group every repeat_interval with the same alert.
    const again = await post(
      '/hooks/alertmanager',
      alertmanager('firing', [{ name: 'HighLatency', fingerprint: 'a1b2c3d4e5f60718' }]),
    );
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { duplicates: number }).duplicates, 1);
    assert.deepEqual(await kinds('INC-1'), ['incident.declared', 'alert.firing']);
    assert.deepEqual(await t.bot.deps.incidents.listAll(), ['INC-1']);
  });

  it('attaches a second alert to the open incident, and notes each resolve once', async () => {
    await post(
      '/hooks/alertmanager',
      alertmanager('firing', [{ name: 'HighLatency', fingerprint: 'f00000000000000a' }]),
    );
    // A regrouped notification carries the first alert again next to a new one.
    const res = await post(
      '/hooks/alertmanager',
      alertmanager('firing', [
        { name: 'HighLatency', fingerprint: 'f00000000000000a' },
        { name: 'PodsCrashLooping', fingerprint: 'f00000000000000b' },
      ]),
    );
    const body = (await res.json()) as { attached: string[]; duplicates: number; declared: string[] };
    assert.deepEqual(body.declared, []);
    assert.deepEqual(body.attached, ['INC-1']);
    assert.equal(body.duplicates, 1);

    const resolved = await post(
      '/hooks/alertmanager',
      alertmanager('resolved', [{ name: 'HighLatency', fingerprint: 'f00000000000000a' }]),
    );
    assert.deepEqual(((await resolved.json()) as { resolved: string[] }).resolved, ['INC-1']);
    const repeat = await post(
      '/hooks/alertmanager',
      alertmanager('resolved', [{ name: 'HighLatency', fingerprint: 'f00000000000000a' }]),
    );
    assert.equal(((await repeat.json()) as { duplicates: number }).duplicates, 1);
    assert.deepEqual(await kinds('INC-1'), [
      'incident.declared',
      'alert.firing',
      'alert.firing',
      'alert.resolved',
    ]);
    const verified = await t.bot.deps.timeline.verify('INC-1');
    assert.equal(verified.verification.ok, true);

    // The same alert firing again later is a new occurrence (a later startsAt).
    const refire = await post(
      '/hooks/alertmanager',
      alertmanager('firing', [
        { name: 'HighLatency', fingerprint: 'f00000000000000a', startsAt: '2026-12-03T11:00:00.000Z' },
      ]),
    );
    assert.deepEqual(((await refire.json()) as { attached: string[] }).attached, ['INC-1']);
  });

  it('derives a fingerprint from the labels when the sender has none, and counts unmatched alerts', async () => {
    const res = await post(
      '/hooks/alertmanager',
      alertmanager('firing', [{ name: 'HighLatency' }, { name: 'DiskFull', labels: { service: 'billing' } }]),
    );
    const body = (await res.json()) as { declared: string[]; unmatched: number };
    assert.deepEqual(body.declared, ['INC-1']);
    assert.equal(body.unmatched, 1);
    const again = await post('/hooks/alertmanager', alertmanager('firing', [{ name: 'HighLatency' }]));
    assert.equal(((await again.json()) as { duplicates: number }).duplicates, 1);
  });

  it('handles the same notification delivered twice at once (two Alertmanager replicas) once', async () => {
    const payload = alertmanager('firing', [{ name: 'HighLatency', fingerprint: 'c0ffee0000000001' }]);
    const [a, b] = await Promise.all([
      post('/hooks/alertmanager', payload),
      post('/hooks/alertmanager', payload),
    ]);
    const bodies = [
      (await a.json()) as { declared: string[]; duplicates: number },
      (await b.json()) as { declared: string[]; duplicates: number },
    ];
    assert.equal(
      bodies.reduce((n, x) => n + x.declared.length, 0),
      1,
    );
    assert.equal(
      bodies.reduce((n, x) => n + x.duplicates, 0),
      1,
    );
    assert.deepEqual(await t.bot.deps.incidents.listAll(), ['INC-1']);
    assert.deepEqual(await kinds('INC-1'), ['incident.declared', 'alert.firing']);
  });

  it('takes up an alert whose claim never reached an incident (the replica died) once the claim is stale', async () => {
    const fingerprint = 'dead000000000001';
    const startsAt = '2026-12-03T09:00:00.000Z';
    const claim = { incident: '', status: 'firing', startsAt, claimedAt: Date.now() - 1000 };
    await store.set(`alerts:payments:${fingerprint}`, JSON.stringify(claim));
    const fresh = await post(
      '/hooks/alertmanager',
      alertmanager('firing', [{ name: 'HighLatency', fingerprint }]),
    );
    assert.equal(
      ((await fresh.json()) as { duplicates: number }).duplicates,
      1,
      'a fresh claim is in flight',
    );
    await store.set(
      `alerts:payments:${fingerprint}`,
      JSON.stringify({ ...claim, claimedAt: Date.now() - STALE_CLAIM_MS - 1000 }),
    );
    const res = await post(
      '/hooks/alertmanager',
      alertmanager('firing', [{ name: 'HighLatency', fingerprint }]),
    );
    assert.deepEqual(((await res.json()) as { declared: string[] }).declared, ['INC-1']);
  });

  it('takes a Grafana notification signed with HMAC (with its timestamp header)', async () => {
    const body = JSON.stringify(grafana('firing', 'bc97ff14869b13e3'));
    const ts = '1764756000';
    const signature = createHmac('sha256', HMAC).update(`${ts}:${body}`).digest('hex');
    const res = await fetch(`${base}/hooks/grafana`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-grafana-alerting-signature': signature,
        'x-grafana-alerting-timestamp': ts,
      },
      body,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as { declared: string[] }).declared, ['INC-1']);
    const incident = await t.bot.deps.incidents.active(CHECKOUT_CHANNEL);
    assert.equal(incident?.service, 'checkout');
    assert.equal(incident?.severity, 'SEV2');
    assert.equal(incident?.commander.name, 'Grafana');
  });

  describe('refuses and changes nothing', () => {
    async function assertNothingChanged() {
      assert.deepEqual(await t.bot.deps.incidents.listAll(), []);
      assert.deepEqual(t.chat.sent, []);
    }

    it('without credentials: 401 naming what to send', async () => {
      const res = await fetch(`${base}/hooks/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alertmanager('firing', [{ name: 'HighLatency' }])),
      });
      assert.equal(res.status, 401);
      assert.match(((await res.json()) as { error: string }).error, /Authorization: Bearer/);
      await assertNothingChanged();
    });

    it('with a wrong bearer token: 401', async () => {
      const res = await post('/hooks/alertmanager', alertmanager('firing', [{ name: 'HighLatency' }]), {
        authorization: 'Bearer not-the-token',
      });
      assert.equal(res.status, 401);
      assert.match(((await res.json()) as { error: string }).error, /not the configured integrations.token/);
      await assertNothingChanged();
    });

    it('with a forged HMAC signature: 401', async () => {
      const body = JSON.stringify(grafana('firing', 'bc97ff14869b13e3'));
      const res = await fetch(`${base}/hooks/grafana`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-grafana-alerting-signature': createHmac('sha256', 'wrong').update(body).digest('hex'),
        },
        body,
      });
      assert.equal(res.status, 401);
      assert.match(((await res.json()) as { error: string }).error, /HMAC signature does not match/);
      await assertNothingChanged();
    });

    it('a body that is not JSON: 400 saying so', async () => {
      const res = await post('/hooks/alertmanager', '{"version": "4", alerts: [');
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: string }).error, /not valid JSON/);
      await assertNothingChanged();
    });

    it('a payload of another version: 400 naming the field', async () => {
      const res = await post('/hooks/alertmanager', {
        ...alertmanager('firing', [{ name: 'X' }]),
        version: '3',
      });
      assert.equal(res.status, 400);
      assert.match(
        ((await res.json()) as { error: string }).error,
        /Alertmanager \(webhook v4\) payload: version: version must be "4"/,
      );
      await assertNothingChanged();
    });

    it('an alert without labels: 400 naming alerts.0.labels', async () => {
      const payload = alertmanager('firing', [{ name: 'X' }]);
      const broken = { ...payload, alerts: [{ ...payload.alerts[0], labels: undefined }] };
      const res = await post('/hooks/alertmanager', broken);
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: string }).error, /alerts\.0\.labels/);
      await assertNothingChanged();
    });

    it('a form body: 415 asking for JSON', async () => {
      const res = await post('/hooks/alertmanager', 'a=1', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      assert.equal(res.status, 415);
      await assertNothingChanged();
    });

    it('never logs the token or the HMAC secret', async () => {
      await post('/hooks/alertmanager', alertmanager('firing', [{ name: 'X' }]), {
        authorization: `Bearer ${TOKEN}x`,
      });
      await post('/hooks/alertmanager', alertmanager('firing', [{ name: 'HighLatency' }]));
      const logs = t.logLines.join('\n');
      assert.ok(!logs.includes(TOKEN), 'token not in logs');
      assert.ok(!logs.includes(HMAC), 'hmac secret not in logs');
    });
  });
});
