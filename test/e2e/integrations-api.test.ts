// The read-only API over HTTP: incidents, the timeline with its chain verification, the post-mortem, the OpenAPI doc.
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { OPENAPI } from '../../flows/integrations/openapi.ts';
import { integrationRoutes } from '../../flows/integrations/routes.ts';
import { pathMatches, startHealthServer } from '../../src/http.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { TimelineLog } from '../../src/timeline-log.ts';
import { makeTestBot, testConfig, type TestBot } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import { nockAuthTest, startHttpBot, type HttpBot } from '../support/slack.ts';

const TOKEN = 'cs-api-token-77d1c0e2';
const ENV = { CS_API_TOKEN: TOKEN };
const CONFIG = () => testConfig({ integrations: { token: { env: 'CS_API_TOKEN' } } });

interface Schema {
  type?: string | string[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: readonly unknown[];
  const?: unknown;
}

/** Checks a value against the subset of JSON Schema the document uses: type, required, properties, items, enum. */
function conforms(value: unknown, schema: Schema, path = '$'): string[] {
  const problems: string[] = [];
  if (schema.const !== undefined && value !== schema.const)
    problems.push(`${path}: not ${String(schema.const)}`);
  if (schema.enum && !schema.enum.includes(value as never))
    problems.push(`${path}: ${String(value)} not in enum`);
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
  if (types.length > 0) {
    const actual =
      value === null
        ? 'null'
        : Array.isArray(value)
          ? 'array'
          : Number.isInteger(value)
            ? 'integer'
            : typeof value;
    const ok = types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
    if (!ok) return [`${path}: ${actual} is not ${types.join('|')}`];
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) problems.push(`${path}.${key}: missing`);
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      if (key in record) problems.push(...conforms(record[key], sub, `${path}.${key}`));
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => problems.push(...conforms(item, schema.items as Schema, `${path}[${i}]`)));
  }
  return problems;
}

function responseSchema(path: string, status: string): Schema {
  const item = (OPENAPI.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)[
    path
  ];
  const op = item?.get ?? item?.post;
  const response = op?.responses[status] as
    { content: { 'application/json': { schema: Schema } } } | undefined;
  assert.ok(response, `${path} documents ${status}`);
  return response.content['application/json'].schema;
}

describe('read-only API (GET /api/v1/*)', () => {
  let store: RedisStore;
  let t: TestBot;
  let server: Server;
  let base: string;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    t = makeTestBot({ store, config: CONFIG(), env: ENV });
    const started = await startHealthServer(integrationRoutes(t.bot.deps, ENV), 0, '127.0.0.1');
    server = started.server;
    base = `http://127.0.0.1:${started.port}`;
    await t.command('alice', '/incident', 'declare payments sev=1 OOM on cloud');
    await t.command('alice', '/incident', 'resolve rolled back');
    await t.command('alice', '/incident', 'declare checkout sev=2 5xx on cloud', 'C0CHECKOUT');
  });

  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    await t.bot.stop();
    await store.close();
  });

  async function get(path: string, token: string | null = TOKEN) {
    const res = await fetch(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('lists incidents newest first, filtered by status, shaped as documented', async () => {
    const all = await get('/api/v1/incidents');
    assert.equal(all.status, 200);
    assert.deepEqual(conforms(all.body, responseSchema('/api/v1/incidents', '200')), []);
    const list = all.body.incidents as { id: string; status: string; service: string }[];
    assert.deepEqual(
      list.map((i) => [i.id, i.status, i.service]),
      [
        ['INC-2', 'active', 'checkout'],
        ['INC-1', 'resolved', 'payments'],
      ],
    );
    const active = await get('/api/v1/incidents?status=active');
    assert.deepEqual(
      (active.body.incidents as { id: string }[]).map((i) => i.id),
      ['INC-2'],
    );
    const bad = await get('/api/v1/incidents?status=open');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error as string, /status=open is not active or resolved/);
  });

  it('gets one incident, its timeline with the chain verified, and its post-mortem', async () => {
    const one = await get('/api/v1/incidents/INC-1');
    assert.equal(one.status, 200);
    assert.deepEqual(conforms(one.body, responseSchema('/api/v1/incidents/{id}', '200')), []);
    assert.equal(one.body.resolution, 'rolled back');
    assert.ok(!('headline' in one.body), 'chat internals stay inside');

    const timeline = await get('/api/v1/incidents/INC-1/timeline');
    assert.equal(timeline.status, 200);
    assert.deepEqual(conforms(timeline.body, responseSchema('/api/v1/incidents/{id}/timeline', '200')), []);
    const events = timeline.body.events as { kind: string; hash: string; prev: string | null }[];
    assert.deepEqual(
      events.map((e) => e.kind),
      ['incident.declared', 'incident.resolved'],
    );
    assert.equal(events[1]?.prev, events[0]?.hash);
    assert.deepEqual(timeline.body.verification, { ok: true, count: 2, head: events[1]?.hash });

    const pm = await get('/api/v1/incidents/INC-1/postmortem');
    assert.equal(pm.status, 200);
    assert.deepEqual(conforms(pm.body, responseSchema('/api/v1/incidents/{id}/postmortem', '200')), []);
    assert.equal(pm.body.draft, false);
  });

  it('reports a tampered timeline as broken, naming the event', async () => {
    const key = store.prefix + TimelineLog.streamKey('INC-1');
    const entries = (await store.redis.xrange(key, '-', '+')) as [string, string[]][];
    await store.redis.del(key);
    for (const [i, [id, fields]] of entries.entries()) {
      const event = JSON.parse(fields[1] ?? '{}') as { summary: string };
      if (i === 0) event.summary = 'nobody declared anything';
      await store.redis.xadd(key, id, 'event', JSON.stringify(event));
    }
    const timeline = await get('/api/v1/incidents/INC-1/timeline');
    const verification = timeline.body.verification as { ok: boolean; index: number; reason: string };
    assert.equal(verification.ok, false);
    assert.equal(verification.index, 0);
    assert.match(verification.reason, /does not match its hash/);
  });

  it('refuses a missing or wrong token with 401, a bad id with 400, an unknown incident with 404', async () => {
    const none = await get('/api/v1/incidents', null);
    assert.equal(none.status, 401);
    assert.match(none.body.error as string, /Authorization: Bearer/);
    const wrong = await get('/api/v1/incidents/INC-1', 'guess');
    assert.equal(wrong.status, 401);
    const bad = await get('/api/v1/incidents/1;DROP');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error as string, /is not an incident id; they look like INC-42/);
    const missing = await get('/api/v1/incidents/INC-99/timeline');
    assert.equal(missing.status, 404);
    assert.match(missing.body.error as string, /No incident INC-99/);
    const part = await get('/api/v1/incidents/INC-1/evidence');
    assert.equal(part.status, 404);
  });

  it('documents every route it serves, and serves every documented path', async () => {
    const routes = integrationRoutes(t.bot.deps, ENV).filter((r) => r.path !== '/api/v1/openapi.json');
    const documented = Object.keys(OPENAPI.paths);
    const concrete = (path: string) => path.replace('{id}', 'INC-1');
    for (const path of documented) {
      assert.ok(
        routes.some((r) => pathMatches(r.path, concrete(path))),
        `${path} is served`,
      );
    }
    for (const route of routes) {
      assert.ok(
        documented.some((path) => pathMatches(route.path, concrete(path))),
        `${route.path} is documented`,
      );
    }
    const res = await fetch(`${base}/api/v1/openapi.json`);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths), documented);
  });
});

describe('integration routes in Slack HTTP mode (Bolt custom routes)', () => {
  useNock();
  let store: RedisStore;
  let app: HttpBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    nockAuthTest();
    app = await startHttpBot({ config: CONFIG(), store, env: ENV, secrets: [TOKEN] });
  });

  afterEach(async () => {
    await app.stop();
    await store.close();
  });

  it('routes /api/v1/incidents/:id/timeline through the same port as /slack/events', async () => {
    const list = await fetch(`${app.url}/api/v1/incidents`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(list.status, 200);
    assert.deepEqual(await list.json(), { incidents: [] });
    const missing = await fetch(`${app.url}/api/v1/incidents/INC-3/timeline`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /No incident INC-3/);
    const denied = await fetch(`${app.url}/hooks/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(denied.status, 401);
  });
});
