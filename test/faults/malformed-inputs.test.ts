// Abuse: 1,000 generated malformed commands, button presses, forged/stale signatures and broken envelopes through Bolt.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import nock from 'nock';
import {
  chmodSync,
  mkdirSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../../commands/index.ts';
import { APPROVE_ACTION, DENY_ACTION } from '../../src/chat/blocks/approval.ts';
import { DEBUG_CONTAINER_ACTION } from '../../flows/telemetry/blocks.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { testConfig } from '../support/bot.ts';
import { PD_FROM, PD_TOKEN } from '../support/pagerduty.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import { drillRecords, startRoute53Server, type Route53Server } from '../../src/drill/route53.ts';
import { sign, SIGNING_SECRET } from '../support/slack.ts';
import { DRILL_HEALTH_CHECK, DRILL_ZONE, ROUTE53_SECTION, USERS } from './lib/fixtures.ts';
import {
  faultButtonPayload,
  commandRequest,
  formOf,
  startFaultBot,
  until,
  type FaultBot,
} from './lib/http-bot.ts';
import {
  buttonCase,
  COMMAND_GENERATORS,
  EVIL,
  Gen,
  GENERIC_GENERATORS,
  SIGNATURE_FAULTS,
  type ButtonCase,
  type CommandCase,
  type SignatureFault,
} from './lib/malformed.ts';
import { startLocalSlack, type LocalSlack } from './lib/slack-server.ts';

const SEED = Number(process.env.FAULTS_SEED ?? 20261126);
const TOTAL = 1000;
const SIGNATURES = 90;
const ENVELOPES = 30;
const BUTTONS = 200;
const CONCURRENCY = 16;
const ACTIVE = 'C0FUZZACTIVE';
const QUIET = 'C0FUZZQUIET';
const FORM = 'application/x-www-form-urlencoded';

interface Trap {
  url: string;
  server: Server;
  requests: string[];
  close(): Promise<void>;
}

/** An HTTP endpoint standing in for Kubernetes, Prometheus and PagerDuty: it records every request and fails it. */
async function startTrap(): Promise<Trap> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end('{"message":"the fault suite forbids this call"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    server,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Outcome =
  | 'usage'
  | 'refusal'
  | 'help'
  | '401'
  | 'envelope-400'
  | 'envelope-404'
  | 'envelope-500'
  | 'envelope-ignored';

interface Sent {
  label: string;
  kind: 'command' | 'button' | 'signature' | 'envelope';
  detail: string;
  status: number;
  replyId?: string;
}

describe('abuse: 1,000 generated malformed inputs through the real Bolt receiver', function () {
  this.timeout(120_000);
  let dir: string;
  let store: RedisStore;
  let slack: LocalSlack;
  let r53: Route53Server;
  let trap: Trap;
  let app: FaultBot;
  let terraformMarker: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cs-fuzz-'));
    store = await isolatedRedisStore();
    slack = await startLocalSlack();
    trap = await startTrap();
    r53 = await startRoute53Server({
      zones: { [DRILL_ZONE]: drillRecords(10) },
      healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
      syncDelayMs: 0,
    });
    // Terraform is a script that leaves a mark: any run of it fails the test.
    terraformMarker = join(dir, 'terraform-was-run');
    mkdirSync(join(dir, 'tf'));
    const terraform = join(dir, 'terraform');
    writeFileSync(terraform, `#!/bin/sh\necho "$@" >> '${terraformMarker}'\nexit 1\n`);
    chmodSync(terraform, 0o755);
    writeFileSync(
      join(dir, 'kubeconfig'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'trap', cluster: { server: trap.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'bot', user: { token: 'k8s-trap-token' } }],
        contexts: [{ name: 'trap', context: { cluster: 'trap', user: 'bot', namespace: 'payments' } }],
        'current-context': 'trap',
      }),
    );
    const config = testConfig({
      evidence: { dir: join(dir, 'evidence') },
      services: {
        payments: {
          traffic: { route53: ROUTE53_SECTION },
          kubernetes: {
            namespace: 'payments',
            selector: 'app=payments,track=cloud',
            container: 'app',
            runtime: 'jvm',
            prometheus: { url: `${trap.url}/prometheus` },
          },
          sandbox: { terraform: { dir: join(dir, 'tf') } },
        },
        checkout: {},
      },
    });
    // Every adapter is built by the composition root from this environment, as in production, pointed at traps.
    app = await startFaultBot({
      config,
      store,
      slack,
      env: {
        AWS_ENDPOINT_URL_ROUTE_53: r53.url,
        AWS_ACCESS_KEY_ID: 'AKIDFUZZ',
        AWS_SECRET_ACCESS_KEY: 'fuzz-secret-not-real',
        KUBECONFIG: join(dir, 'kubeconfig'),
        PAGERDUTY_TOKEN: PD_TOKEN,
        PAGERDUTY_FROM: PD_FROM,
        PAGERDUTY_API_URL: trap.url,
        TERRAFORM_BIN: terraform,
        TERRAFORM_WORK_DIR: join(dir, 'tf-work'),
      },
      secrets: [PD_TOKEN],
    });
  });

  after(async () => {
    await app.stop();
    await store.close();
    await slack.close();
    await trap.close();
    await r53.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every key under the store's prefix with its type and content; leases (timers' heartbeats) left out. */
  async function keyspace(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const keys = await store.redis.keys(`${store.prefix}*`);
    for (const key of keys.sort()) {
      if (/lease/.test(key)) continue;
      const type = await store.redis.type(key);
      let value: unknown;
      if (type === 'string') value = await store.redis.get(key);
      else if (type === 'set') value = (await store.redis.smembers(key)).sort();
      else if (type === 'zset') value = await store.redis.call('ZRANGE', key, '0', '-1', 'WITHSCORES');
      else if (type === 'stream') value = await store.redis.xlen(key);
      else if (type === 'hash') value = await store.redis.hgetall(key);
      else value = type;
      out.set(key, `${type} ${JSON.stringify(value)}`);
    }
    return out;
  }

  function headers(body: string, fault: SignatureFault): Record<string, string> {
    const now = Math.floor(Date.now() / 1000);
    const good = sign(body);
    const signature = good['x-slack-signature'] ?? '';
    const timestamp = good['x-slack-request-timestamp'] ?? '';
    switch (fault) {
      case 'forged-secret':
        return sign(body, { secret: 'not-the-signing-secret' });
      case 'stale':
        return sign(body, { timestamp: now - 6 * 60 });
      case 'future':
        // A captured signature replayed with a moved clock: the timestamp is part of what was signed.
        return { 'x-slack-request-timestamp': String(now + 600), 'x-slack-signature': signature };
      case 'no-signature':
        return { 'x-slack-request-timestamp': timestamp };
      case 'no-timestamp':
        return { 'x-slack-signature': signature };
      case 'no-headers':
        return {};
      case 'garbled':
        return {
          'x-slack-request-timestamp': timestamp,
          'x-slack-signature': `v0=${signature.slice(3, 20)}zz`,
        };
      case 'wrong-version':
        return {
          'x-slack-request-timestamp': timestamp,
          'x-slack-signature': signature.replace(/^v0=/, 'v1='),
        };
      case 'other-body': {
        const other = createHmac('sha256', SIGNING_SECRET)
          .update(`v0:${timestamp}:${body}&x=1`)
          .digest('hex');
        return { 'x-slack-request-timestamp': timestamp, 'x-slack-signature': `v0=${other}` };
      }
      case 'tampered-body':
        return good; // the body is changed after signing, below
      case 'timestamp-text':
        return { 'x-slack-request-timestamp': 'abc', 'x-slack-signature': signature };
    }
  }

  it('refuses every one ephemerally (or with 401), calls no adapter, writes nothing, and never crashes', async () => {
    // Arrange: an incident with a real pending /contain request, so approvals of it can be tried by the wrong people.
    const setup = async (text: string, command: string) => {
      const req = commandRequest(slack, { command, text, user: USERS.alice, channel: ACTIVE });
      assert.equal((await app.send(req.body, req.contentType)).status, 200);
      await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1));
      return slack.repliesTo(req.replyId)[0]?.body.text ?? '';
    };
    assert.match(
      await setup('declare payments sev=1 cloud pods OOMKilled', '/incident'),
      /Declared \*INC-1\*/,
    );
    assert.match(await setup('', '/contain'), /Approval card posted/);
    await app.bot.idle();
    const [pending] = await app.bot.deps.approvals.listForIncident('INC-1');
    assert.ok(pending?.card);
    const before = await keyspace();
    const slackWritesBefore = slack.writes().length;
    const r53Before = r53.requests.length;
    const trapBefore = trap.requests.length;
    const timelineBefore = (await app.bot.deps.timeline.read('INC-1')).length;

    const registered = COMMANDS.map((c) => c.name);
    const missing = registered.filter((name) => !COMMAND_GENERATORS[name]);
    assert.deepEqual(
      missing,
      [],
      `add malformed-input generators for ${missing.join(', ')} in test/faults/lib/malformed.ts`,
    );

    // Generate: the same 1,000 cases for the same seed.
    const g = new Gen(SEED);
    const users = [USERS.alice, USERS.bob, USERS.carol, USERS.dave];
    const pickUser = (notFrom: string[] = []) => {
      for (;;) {
        const roll = g.float();
        const user =
          roll < 0.85
            ? g.pick(users)
            : roll < 0.95
              ? USERS.mallory
              : { id: `U0${g.pick(EVIL).slice(0, 20)}`, name: g.pick(EVIL).slice(0, 30) };
        if (!notFrom.includes(user.id)) return user;
      }
    };
    const pickChannel = (where: 'active' | 'quiet' | 'any') =>
      where === 'active'
        ? ACTIVE
        : where === 'quiet'
          ? QUIET
          : g.chance(0.6)
            ? ACTIVE
            : g.chance(0.9)
              ? QUIET
              : `C0${g.pick(EVIL).slice(0, 12)}`;
    const nextCommand = (): CommandCase => {
      const command = g.pick(registered);
      const generators = COMMAND_GENERATORS[command] ?? [];
      const made = (g.chance(0.85) ? g.pick(generators) : g.pick(GENERIC_GENERATORS))(g);
      return { kind: 'command', command, ...made };
    };
    const ids = {
      pending: pending.id,
      approve: APPROVE_ACTION,
      deny: DENY_ACTION,
      debug: DEBUG_CONTAINER_ACTION,
    };
    interface Built {
      label: string;
      kind: Sent['kind'];
      detail: string;
      body: string;
      contentType: string;
      headers?: Record<string, string>;
      replyId?: string;
    }
    const buildCommand = (c: CommandCase): Built => {
      const req = commandRequest(slack, {
        command: c.command,
        text: c.text,
        user: pickUser(),
        channel: pickChannel(c.channel),
      });
      return { label: c.label, kind: 'command', detail: `${c.command} ${c.text.slice(0, 80)}`, ...req };
    };
    const buildButton = (b: ButtonCase): Built => {
      const { payload, replyId } = faultButtonPayload(slack, {
        actionId: b.actionId,
        value: b.value,
        user: pickUser(b.notFrom),
        channel: pickChannel(b.channel),
        messageTs: pending.card?.ts ?? '1.1',
      });
      return {
        label: b.label,
        kind: 'button',
        detail: `${b.actionId} ${b.value.slice(0, 60)}`,
        body: formOf(payload),
        contentType: FORM,
        replyId,
      };
    };
    const cases: Built[] = [];
    for (let i = 0; i < TOTAL - BUTTONS - SIGNATURES - ENVELOPES; i++)
      cases.push(buildCommand(nextCommand()));
    for (let i = 0; i < BUTTONS; i++) cases.push(buildButton(buttonCase(g, ids)));
    for (let i = 0; i < SIGNATURES; i++) {
      const fault = SIGNATURE_FAULTS[i % SIGNATURE_FAULTS.length] ?? 'forged-secret';
      const inner = g.chance(0.7) ? buildCommand(nextCommand()) : buildButton(buttonCase(g, ids));
      const signed = headers(inner.body, fault);
      const body =
        fault === 'tampered-body' ? `${inner.body}&text=${encodeURIComponent('legacy=100')}` : inner.body;
      cases.push({ ...inner, body, label: `signature:${fault}`, kind: 'signature', headers: signed });
    }
    const base = faultButtonPayload(slack, {
      actionId: APPROVE_ACTION,
      value: pending.id,
      user: USERS.bob,
      channel: ACTIVE,
      messageTs: pending.card.ts,
    }).payload;
    const envelopes: [string, string, string][] = [
      ['not-json', `payload=${encodeURIComponent('{"type":"block_actions",')}`, FORM],
      ['no-user', formOf({ ...base, user: undefined }), FORM],
      ['no-actions', formOf({ ...base, actions: [] }), FORM],
      ['actions-not-array', formOf({ ...base, actions: 'approve' }), FORM],
      ['unknown-type', formOf({ ...base, type: 'block_actionz' }), FORM],
      [
        'select-not-button',
        formOf({
          ...base,
          actions: [
            {
              type: 'static_select',
              action_id: APPROVE_ACTION,
              block_id: 'b',
              selected_option: { value: pending.id },
              action_ts: '1',
            },
          ],
        }),
        FORM,
      ],
      ['json-array', '[1,2,3]', 'application/json'],
      ['empty', '', FORM],
      [
        'unregistered-command',
        commandRequest(slack, { command: '/rm', text: '-rf /', user: USERS.alice, channel: ACTIVE }).body,
        FORM,
      ],
      ['command-without-name', `text=declare+payments&user_id=U0ALICE&channel_id=${ACTIVE}`, FORM],
    ];
    for (let i = 0; i < ENVELOPES; i++) {
      const [name, body, contentType] = envelopes[i % envelopes.length] ?? ['empty', '', FORM];
      cases.push({ label: `envelope:${name}`, kind: 'envelope', detail: name, body, contentType });
    }
    assert.equal(cases.length, TOTAL);

    // Act: push them all through the real receiver, 16 at a time, watching for crashes.
    const rejections: unknown[] = [];
    const onRejection = (err: unknown) => rejections.push(err);
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onRejection);
    // Anything else (the PagerDuty Events API, real AWS, slack.com) is not on loopback: nock refuses it; we count it.
    const offHost: string[] = [];
    const onNoMatch = (req: { method?: string; href?: string; url?: string }) => {
      const url = req.href ?? req.url ?? '?';
      if (!/^https?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(url)) offHost.push(`${req.method ?? '?'} ${url}`);
    };
    nock.emitter.on('no match', onNoMatch);
    const sent: Sent[] = [];
    const started = Date.now();
    try {
      // Envelopes Bolt cannot route wait out its 3 s unhandled-request timer: send them alongside, not in the pool.
      const envelopeRuns = cases
        .filter((c) => c.kind === 'envelope')
        .map(async (c) => {
          const res = await app.send(c.body, c.contentType, sign(c.body));
          sent.push({ label: c.label, kind: c.kind, detail: c.detail, status: res.status });
        });
      const queue = cases.filter((c) => c.kind !== 'envelope');
      const workers = Array.from({ length: CONCURRENCY }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          const res = await app.send(c.body, c.contentType, c.headers ?? sign(c.body));
          sent.push({
            label: c.label,
            kind: c.kind,
            detail: c.detail,
            status: res.status,
            ...(c.replyId ? { replyId: c.replyId } : {}),
          });
        }
      });
      await Promise.all([...workers, ...envelopeRuns]);
      await app.bot.idle();
      const expected = sent.filter((s) => s.status === 200 && (s.kind === 'command' || s.kind === 'button'));
      await until(() => {
        const waiting = expected.filter((s) => slack.repliesTo(s.replyId ?? '').length === 0);
        assert.equal(
          waiting.length,
          0,
          `no reply yet for ${waiting
            .slice(0, 3)
            .map((s) => s.detail)
            .join(' | ')}`,
        );
      }, 20_000);
      // Every reply is sent by work the bot tracks: once it is idle again, a second reply would already be here.
      await app.bot.idle();
    } finally {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onRejection);
      nock.emitter.off('no match', onNoMatch);
    }
    const seconds = (Date.now() - started) / 1000;

    // Assert: each case got what it should, and classify it.
    const outcomes = new Map<string, Map<Outcome, number>>();
    const count = (key: string, outcome: Outcome) => {
      const row = outcomes.get(key) ?? new Map<Outcome, number>();
      row.set(outcome, (row.get(outcome) ?? 0) + 1);
      outcomes.set(key, row);
    };
    const problems: string[] = [];
    for (const s of sent) {
      const replies = s.replyId ? slack.repliesTo(s.replyId) : [];
      if (s.kind === 'signature') {
        if (s.status !== 401) problems.push(`${s.label} answered ${s.status}: ${s.detail}`);
        if (replies.length > 0) problems.push(`${s.label} got a reply: ${s.detail}`);
        count('signatures', '401');
        continue;
      }
      if (s.kind === 'envelope') {
        const outcome: Outcome | undefined =
          s.status === 400
            ? 'envelope-400'
            : s.status === 404
              ? 'envelope-404'
              : s.status === 500
                ? 'envelope-500'
                : s.status === 200
                  ? 'envelope-ignored'
                  : undefined;
        if (!outcome) problems.push(`${s.label} answered ${s.status}`);
        else count('envelopes', outcome);
        continue;
      }
      const reply = replies[0]?.body;
      if (s.status !== 200 || replies.length !== 1 || !reply) {
        problems.push(`${s.label} (${s.detail}): HTTP ${s.status}, ${replies.length} replies`);
        continue;
      }
      if (reply.response_type !== 'ephemeral' || reply.replace_original !== false)
        problems.push(`${s.label}: reply not ephemeral`);
      const blocks = (reply.blocks ?? []) as { type: string; text?: { text?: string } }[];
      const text = reply.text ?? '';
      let outcome: Outcome | undefined;
      if (/Something failed on our side/.test(text))
        problems.push(`${s.label} hit an internal error: ${s.detail}`);
      else if (blocks[0]?.type === 'header' && /cloud-safety commands/.test(JSON.stringify(blocks[0])))
        outcome = 'help';
      else if (blocks[0]?.text?.text?.startsWith(':warning:'))
        outcome = blocks.length > 1 ? 'usage' : 'refusal';
      else problems.push(`${s.label} was not refused: ${s.detail} -> ${text.slice(0, 120)}`);
      if (outcome)
        count(s.label.split(':')[0] === 'button' ? 'buttons' : (s.detail.split(' ')[0] ?? '?'), outcome);
    }

    // The counts, in the test output: one row per kind of input, one column per outcome.
    const columns: Outcome[] = [
      'usage',
      'refusal',
      'help',
      '401',
      'envelope-400',
      'envelope-404',
      'envelope-500',
      'envelope-ignored',
    ];
    const used = columns.filter((c) => [...outcomes.values()].some((row) => row.has(c)));
    const order = [...registered, 'buttons', 'signatures', 'envelopes'].filter((k) => outcomes.has(k));
    const cell = (v: string | number, w = 9) => String(v).padStart(w);
    const lines = [
      `${'input'.padEnd(12)}${cell('sent', 6)}${used.map((c) => cell(c, c.length + 2)).join('')}`,
    ];
    for (const key of order) {
      const row = outcomes.get(key) ?? new Map<Outcome, number>();
      const total = [...row.values()].reduce((a, b) => a + b, 0);
      lines.push(
        `${key.padEnd(12)}${cell(total, 6)}${used.map((c) => cell(row.get(c) ?? 0, c.length + 2)).join('')}`,
      );
    }
    const envelopeKinds = [
      ...new Set(sent.filter((s) => s.kind === 'envelope').map((s) => `${s.detail} ${s.status}`)),
    ];
    process.stdout.write(
      `\n      ${sent.length} malformed inputs (seed ${SEED}, ${new Set(sent.map((s) => s.label)).size} constructions) in ${seconds.toFixed(1)} s:\n` +
        lines.map((l) => `        ${l}\n`).join('') +
        `        envelopes by HTTP status: ${envelopeKinds.sort().join(', ')}\n`,
    );

    assert.deepEqual(problems.slice(0, 20), [], `${problems.length} cases were not refused properly`);
    assert.deepEqual(rejections, [], 'no unhandled rejection or uncaught exception');
    assert.equal(sent.length, TOTAL);

    // Nothing was called and nothing was written.
    assert.deepEqual(
      slack
        .writes()
        .slice(slackWritesBefore)
        .map((c) => c.method),
      [],
      'no Slack Web API write',
    );
    assert.deepEqual(r53.requests.slice(r53Before), [], 'no Route 53 call');
    assert.deepEqual(trap.requests.slice(trapBefore), [], 'no Kubernetes, Prometheus or PagerDuty call');
    assert.deepEqual(offHost, [], 'no call off this host');
    assert.equal(
      existsSync(terraformMarker),
      false,
      `terraform was run: ${existsSync(terraformMarker) ? readFileSync(terraformMarker, 'utf8') : ''}`,
    );
    // The timeline's anchor records (rewritten by the setup's headline edits) are not evidence.
    const evidence = existsSync(join(dir, 'evidence'))
      ? (readdirSync(join(dir, 'evidence'), { recursive: true }) as string[]).filter(
          (f) => !/(^|\/)INC-\d+$/.test(f) && !/\/timeline-anchor-[0-9TZ]+\.json$/.test(f),
        )
      : [];
    assert.deepEqual(evidence, [], 'no evidence written');
    assert.equal(
      (await app.bot.deps.timeline.read('INC-1')).length,
      timelineBefore,
      'nothing on the timeline',
    );
    assert.equal(
      (await app.bot.deps.approvals.get(pending.id))?.state,
      'requested',
      'the pending request is untouched',
    );
    const after = await keyspace();
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter(
      (k) => before.get(k) !== after.get(k),
    );
    assert.deepEqual(changed, [], 'no key in Redis was written');
    const internal = app.logLines.filter((l) => /"level":50/.test(l) && !/"component":"bolt"/.test(l));
    assert.deepEqual(internal.slice(0, 5), [], 'no error logged by the bot itself');

    // Control: the traps are live. Valid commands reach each of them, so the zeros above mean something.
    for (const [command, text] of [
      ['/contain', 'legacy=90'],
      ['/telemetry', ''],
      ['/sandbox', 'up'],
      ['/incident', 'link PT4KHLK'],
    ] as const) {
      const req = commandRequest(slack, { command, text, user: USERS.carol, channel: ACTIVE });
      assert.equal((await app.send(req.body, req.contentType)).status, 200);
      await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1));
    }
    await until(() => {
      assert.ok(r53.requests.length > r53Before, 'a valid /contain reads Route 53');
      assert.ok(
        trap.requests.some((r) => r.includes('/api/v1/namespaces/payments/pods')),
        'a valid /telemetry lists pods',
      );
      assert.ok(
        trap.requests.some((r) => r.includes('/incidents/PT4KHLK')),
        'a valid link reads PagerDuty',
      );
      assert.ok(existsSync(terraformMarker), 'a valid /sandbox up runs terraform');
    });
  });
});
