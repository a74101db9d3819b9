// /drill over Slack HTTP (signed requests, real Redis, injected clock): a drill incident runs the runbook against its
// own simulated cloud while the bot's real endpoints (Route 53, Kubernetes, Prometheus, PostgreSQL) receive nothing;
// every card in the channel says DRILL, and the post-mortem carries the score.
import { DRILL_CLOUD_TG, DRILL_LEGACY_TG, DRILL_LISTENER } from '../../src/drill/elbv2.ts';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nock from 'nock';
import { testConfig } from '../support/bot.ts';
import { fakeClock } from '../support/aws.ts';
import { useNock } from '../support/nock.ts';
import { testPostgres } from '../support/postgres.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import {
  buttonBody,
  commandBody,
  eventually,
  nockAuthTest,
  RESPONSE_HOST,
  SLACK_API,
  startHttpBot,
  webApiBody,
  type HttpBot,
} from '../support/slack.ts';

const CHANNEL = 'C0DRILLROOM';
const ALICE = { id: 'U0ALICE', name: 'alice' };
const BOB = { id: 'U0BOB', name: 'bob' };

interface Posted {
  channel: string;
  ts: string;
  text: string;
  blocks?: unknown[];
}

/** The "real" endpoints: an HTTP server and a TCP port that count every request or connection they get. */
async function countingEndpoints(): Promise<{
  http: Server;
  tcp: TcpServer;
  url: string;
  pgPort: number;
  hits: string[];
  stop(): Promise<void>;
}> {
  const hits: string[] = [];
  const http = createHttpServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(500).end();
  });
  const tcp = createTcpServer((socket) => {
    hits.push('postgres connection');
    socket.destroy();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (s: Server | TcpServer) => {
    const a = s.address();
    return typeof a === 'object' && a ? a.port : 0;
  };
  return {
    http,
    tcp,
    url: `http://127.0.0.1:${port(http)}`,
    pgPort: port(tcp),
    hits,
    stop: async () => {
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

describe('/drill over Slack HTTP: its own simulated cloud, never the real one', function () {
  this.timeout(120_000);
  useNock();
  let store: RedisStore;
  let app: HttpBot;
  let real: Awaited<ReturnType<typeof countingEndpoints>>;
  let posted: Posted[];
  let updates: Posted[];
  let ephemeral: string[];
  let uploads: number;
  let evidenceDir: string;
  const clock = fakeClock('2026-12-03T03:00:00.000Z');

  beforeEach(async () => {
    store = await isolatedRedisStore();
    real = await countingEndpoints();
    posted = [];
    updates = [];
    ephemeral = [];
    uploads = 0;
    nockAuthTest();
    let seq = 100;
    nock(SLACK_API)
      .post('/api/chat.postMessage', (body) => {
        seq += 1;
        posted.push({ ...webApiBody<Posted>(body), ts: `1764730000.000${seq}` });
        return true;
      })
      .optionally()
      .reply(200, () => ({ ok: true, channel: CHANNEL, ts: posted.at(-1)?.ts ?? '' }))
      .persist();
    nock(SLACK_API)
      .post('/api/chat.update', (body) => {
        updates.push(webApiBody<Posted>(body));
        return true;
      })
      .optionally()
      .reply(200, { ok: true, channel: CHANNEL })
      .persist();
    nock(SLACK_API).post('/api/pins.add').optionally().reply(200, { ok: true }).persist();
    nock(SLACK_API)
      .post(/\/api\/(files\.getUploadURLExternal|files\.completeUploadExternal)/)
      .optionally()
      .reply(200, (uri: string) => {
        uploads += 1;
        return uri.includes('getUploadURL')
          ? { ok: true, upload_url: `${SLACK_API}/upload/${uploads}`, file_id: `F0${uploads}` }
          : { ok: true, files: [{ id: `F0${uploads}`, permalink: `${SLACK_API}/files/F0${uploads}` }] };
      })
      .persist();
    nock(SLACK_API)
      .post(/\/upload\/.*/)
      .optionally()
      .reply(200, 'OK')
      .persist();
    nock(SLACK_API)
      .post('/api/chat.getPermalink')
      .optionally()
      .reply(200, { ok: true, permalink: `${SLACK_API}/p/1` })
      .persist();
    nock(RESPONSE_HOST)
      .post(/.*/, (body: { text?: string }) => {
        ephemeral.push(body.text ?? '');
        return true;
      })
      .optionally()
      .reply(200, { ok: true })
      .persist();

    const dir = mkdtempSync(join(tmpdir(), 'cs-drill-real-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster: { server: "${real.url}" }\nusers:\n- name: real\n  user: { token: real-token }\ncontexts:\n- name: real\n  context: { cluster: real, user: real, namespace: payments }\ncurrent-context: real\n`,
    );
    const pg = await testPostgres();
    // The bot's real payments service: every endpoint it names counts what it gets.
    const config = testConfig({
      services: {
        payments: {
          traffic: {
            route53: {
              hostedZoneId: 'Z0REALPAYMENTS',
              recordName: 'api.payments.example.com',
              recordType: 'A',
              legacy: 'legacy',
              cloud: 'cloud',
            },
          },
          kubernetes: {
            namespace: 'payments',
            selector: 'app=payments,track=cloud',
            container: 'app',
            runtime: 'jvm',
            prometheus: { url: real.url },
          },
          ledger: {
            legacy: { env: 'PAYMENTS_LEGACY_DB_URL' },
            cloud: { env: 'PAYMENTS_CLOUD_DB_URL' },
            table: 'public.ledger_entries',
            key: 'id',
            columns: ['amount', 'updated_at'],
            updatedAt: 'updated_at',
          },
          breaker: {
            source: { prometheus: real.url },
            memory: 'max(container_memory_working_set_bytes)',
            errors: 'sum(rate(http_requests_total{code=~"5.."}[2m]))',
            thresholds: { memory: 0.8, errors: 0.01 },
          },
        },
      },
    });
    evidenceDir = 'dir' in config.evidence ? config.evidence.dir : '';
    app = await startHttpBot({
      config,
      store,
      now: clock.now,
      schedulerTickMs: 50,
      // exec still starts late in the drill cluster, 50 ms instead of 400: /telemetry runs a dozen in sequence.
      drills: { execStartMs: 50 },
      env: {
        AWS_ENDPOINT_URL_ROUTE_53: real.url,
        AWS_ACCESS_KEY_ID: 'AKIDREALLOOKING',
        AWS_SECRET_ACCESS_KEY: 'real-looking-secret',
        KUBECONFIG: kubeconfig,
        PAYMENTS_LEGACY_DB_URL: `postgres://app@127.0.0.1:${real.pgPort}/ledger`,
        PAYMENTS_CLOUD_DB_URL: `postgres://app@127.0.0.1:${real.pgPort}/ledger`,
        CLOUD_SAFETY_DRILL_POSTGRES_URL: pg.url('postgres'),
      },
    });
  });

  afterEach(async () => {
    for (const drill of app.bot.deps.adapters.drills?.all() ?? []) await drill.world.stop();
    await app.stop();
    await real.stop();
    await store.close();
  });

  async function command(name: string, text: string, user = ALICE): Promise<void> {
    const req = commandBody({ command: name, text, userId: user.id, userName: user.name, channel: CHANNEL });
    assert.equal((await app.send(req.body, req.contentType)).status, 200);
    await app.bot.idle();
  }

  async function kinds(incident: string): Promise<string[]> {
    return (await app.bot.deps.timeline.read(incident)).map((e) => e.kind);
  }

  it('runs contain, telemetry and the ledger audit on the drill world, the real endpoints get zero requests, and scores it', async () => {
    await command('/drill', 'start seed factor=0.05');
    const drill = app.bot.deps.adapters.drills?.inChannel(CHANNEL);
    assert.ok(drill, 'a drill runs in the channel');
    assert.equal(drill.incidentId, 'INC-1');
    assert.equal(drill.service, 'payments-drill-1');
    assert.ok(posted.some((p) => /Drill drill-1: Cloud pods leaking memory/.test(JSON.stringify(p.blocks))));

    // C: contain through the approval flow; Route 53's write lands on the simulator.
    await command('/contain', '');
    const card = posted.find((p) => /Approval needed/.test(p.text));
    assert.ok(card, 'the approval card was posted');
    const approve = /"action_id":"approval\.approve","value":"(act-[0-9a-f]{8}\.[0-9a-f]{32})"/.exec(
      JSON.stringify(card.blocks),
    )?.[1];
    assert.ok(approve);
    const press = buttonBody({
      actionId: 'approval.approve',
      value: approve,
      userId: BOB.id,
      userName: BOB.name,
      channel: CHANNEL,
      messageTs: card.ts,
    });
    assert.equal((await app.send(press.body, press.contentType)).status, 200);
    await eventually(async () => assert.ok((await kinds('INC-1')).includes('traffic.submitted')), 20_000);
    assert.equal(drill.world.cloudShare(), 0, 'the simulated Route 53 now sends everything to legacy');
    // Route 53 reports INSYNC after the (scaled) propagation delay on the injected clock.
    clock.advance(10_000);
    await eventually(async () => assert.ok((await kinds('INC-1')).includes('traffic.in_sync')), 20_000);
    // Then the drill's ALB (behind the cloud record) is shifted too: its listener forwards everything to legacy.
    await eventually(
      async () =>
        assert.deepEqual(drill.world.elbv2.weights(DRILL_LISTENER), {
          [DRILL_LEGACY_TG]: 100,
          [DRILL_CLOUD_TG]: 0,
        }),
      20_000,
    );

    // L: heap dumps streamed out of the simulated pods.
    await command('/telemetry', '');
    await eventually(async () => assert.ok((await kinds('INC-1')).includes('evidence.captured')), 60_000);

    // O: the audit runs in the drill's own databases and finds the seed's divergence.
    await command('/ledger', 'audit');
    await eventually(async () => assert.ok((await kinds('INC-1')).includes('ledger.audited')), 30_000);
    const audit = (await app.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'ledger.audited');
    assert.match(
      audit?.summary ?? '',
      /missing_in_legacy 4, missing_in_cloud 0, mismatched 5, partial 1, invariant 1/,
    );

    // A fault, live.
    await command('/drill', 'inject oom');
    assert.match(ephemeral.at(-1) ?? '', /alice injected oom: payments-cloud-7d9f8b6c5-p5r7t OOMKilled/);
    await command('/drill', 'status');
    assert.match(ephemeral.at(-1) ?? '', /Drill drill-1: .* cloud 0% of traffic/);

    await command('/drill', 'stop');
    const scored = posted.find((p) => /Drill drill-1 stopped/.test(p.text));
    assert.ok(scored, 'the score is posted');
    const scoreText = JSON.stringify(scored.blocks);
    assert.match(scoreText, /Score: \d+\/100 \(scenario seed, time factor 0.05\)/);
    assert.match(scoreText, /Time to contain \(DNS in sync\): \S+/);
    assert.doesNotMatch(scoreText, /Time to contain \(DNS in sync\): not done/);
    assert.match(scoreText, /Approvals: 1/);
    assert.match(scoreText, /Ledger: audited, not reconciled/);
    assert.match(scoreText, /Evidence kept before a pod restarted: no \(1 OOMKill during the drill\)|yes/);
    assert.equal(app.bot.deps.adapters.drills?.inChannel(CHANNEL), undefined, 'the drill ended');

    await command('/postmortem', '');
    assert.match(ephemeral.at(-1) ?? '', /Post-mortem/);
    const pmReply = (await app.bot.deps.timeline.read('INC-1')).some((e) => e.kind === 'drill.stopped');
    assert.ok(pmReply);

    // Every message posted or edited in the drill's channel says DRILL.
    for (const m of [...posted, ...updates].filter((p) => p.channel === CHANNEL && 'text' in p)) {
      assert.match(m.text, /🧪 DRILL/, `message says DRILL: ${JSON.stringify(m).slice(0, 300)}`);
    }
    // And the real payments endpoints never heard a thing; the real evidence store holds nothing of the drill.
    assert.deepEqual(real.hits, []);
    // (The ledger CSV and the post-mortem files are written to the local evidence directory by their steps, on disk.)
    const inReal = readdirSync(evidenceDir, { recursive: true }).map(String);
    assert.deepEqual(
      inReal.filter(
        (f) => f !== 'INC-1' && !/^INC-1\/(ledger-audit-.*\.csv|postmortem-INC-1\.(md|json))$/.test(f),
      ),
      [],
      'no heap dump, thread dump or timeline anchor of the drill in the real evidence store',
    );
    assert.ok(
      readdirSync(drill.evidenceDir).includes('INC-1'),
      "the drill's heap dumps went to its own directory",
    );

    // A real incident declared in the channel after the drill is not marked DRILL.
    const before = posted.length;
    await command('/incident', 'declare payments sev=2 channel=here real trouble after the drill');
    const real2 = posted.slice(before).filter((p) => 'text' in p);
    assert.ok(real2.length > 0);
    for (const m of real2) assert.doesNotMatch(m.text, /DRILL/);
  });

  it('plays the ledger-half-shift scenario: the audit in its own databases finds exactly the divergence it describes', async () => {
    await command('/drill', 'start ledger-half-shift factor=0.05');
    await command('/ledger', 'audit');
    await eventually(async () => assert.ok((await kinds('INC-1')).includes('ledger.audited')), 30_000);
    const audit = (await app.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'ledger.audited');
    // The audit's mismatched count includes the half-written and unbalanced rows (their values differ too).
    assert.match(
      audit?.summary ?? '',
      /missing_in_legacy 80, missing_in_cloud 6, mismatched 21, partial 5, invariant 4, in flight 0 over 8074 rows/,
    );
    // Its CDC connector failed (why the ledgers diverged), read from the drill's Kafka Connect.
    assert.deepEqual((audit?.data as { cdc?: unknown }).cdc, {
      healthy: false,
      detail:
        'task 0 is FAILED (org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer. This connector will be stopped.)',
    });
    assert.deepEqual(real.hits, []);
  });

  it('refuses bad input with a message that says how, and starts nothing', async () => {
    await command('/drill', '');
    assert.match(ephemeral.at(-1) ?? '', /Say what to do: start, inject, status or stop/);
    await command('/drill', 'start nope');
    assert.match(
      ephemeral.at(-1) ?? '',
      /There is no drill scenario "nope"; the scenarios are: ledger-half-shift, network-unenforced, payments-leak, seed/,
    );
    await command('/drill', 'start seed factor=2');
    assert.match(ephemeral.at(-1) ?? '', /factor="2" is not a number in \(0, 1\]/);
    await command('/drill', 'inject oom');
    assert.match(
      ephemeral.at(-1) ?? '',
      /No drill is running in this channel. Start one with `\/drill start \[scenario\]`/,
    );
    await command('/drill', 'status please');
    assert.match(ephemeral.at(-1) ?? '', /Unexpected "please"|Unexpected please/);
    assert.equal(app.bot.deps.adapters.drills?.all().length, 0);
    assert.equal(await app.bot.deps.incidents.active(CHANNEL), null);
    assert.deepEqual(posted, []);
    assert.deepEqual(real.hits, []);
  });

  it('never starts a drill in a channel with a real incident, and refuses an unknown fault', async () => {
    await command('/incident', 'declare payments sev=2 channel=here real trouble');
    await command('/drill', 'start');
    assert.match(
      ephemeral.at(-1) ?? '',
      /This channel has a real incident, INC-1 \(payments\); a drill never shares a channel/,
    );
    assert.equal(app.bot.deps.adapters.drills?.all().length, 0);
  });
});
