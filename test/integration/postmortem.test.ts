// /postmortem on a scripted incident (real Redis, real approval flow): times, approvers, hashes, missing steps, files.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActionHandler } from '../../flows/approval/approval.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { EvidenceEventData, LedgerAuditEventData, TrafficEventData } from '../../src/events.ts';
import type { Postmortem } from '../../flows/postmortem/model.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { TimelineLog } from '../../src/timeline-log.ts';
import { sha256 } from '../../src/timeline.ts';
import { CHANNEL, makeTestBot, testConfig, textOf, USERS, type TestBot } from '../support/bot.ts';
import { isolatedRedisStore } from '../support/redis.ts';

interface Shift {
  legacy: number;
  cloud: number;
}

const T0 = Date.parse('2026-11-26T09:00:00Z');
const at = (hhmmss: string) => Date.parse(`2026-11-26T${hhmmss}Z`);
/** The bytes of the "heap dump": the document must carry exactly their SHA-256 and size. */
const HEAP = Buffer.alloc(1_048_576 + 17, 7);
const HEAP_SHA = createHash('sha256').update(HEAP).digest('hex');

describe('/postmortem (real Redis, scripted incident)', () => {
  let store: RedisStore;
  let dir: string;
  let clock: number;
  let t: TestBot;

  beforeEach(async () => {
    store = await isolatedRedisStore();
    dir = mkdtempSync(join(tmpdir(), 'cs-evidence-'));
    clock = T0;
    t = makeTestBot({
      store,
      config: testConfig({ evidence: { dir } }),
      now: () => new Date(clock),
    });
    t.bot.deps.approvals.register(trafficHandler());
  });

  afterEach(async () => {
    await t.bot.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Stands in for step C's Route 53 handler: records the traffic.* milestones with the shared data shape. */
  function trafficHandler(): ActionHandler<Shift> {
    return {
      kind: 'traffic.shift',
      describe: (action) => ({
        fields: [['Weights', `${JSON.stringify(action.basis)} -> ${JSON.stringify(action.change)}`]],
      }),
      async execute(action, ctx) {
        const data = (): TrafficEventData => ({
          action: action.id,
          layer: 'route53',
          before: { legacy: 20, cloud: 80 },
          after: action.change,
          ttl: 300,
          maxTtl: 60,
          changeId: 'C2OZYU9MBNNQ7X',
        });
        const record = (kind: string, summary: string) =>
          t.bot.deps.incidents.record(action.incident, {
            step: 'C',
            kind,
            actor: { type: 'system', id: 'cloud-safety', name: 'cloud-safety' },
            summary,
            data: { ...data() },
          });
        clock = at('09:05:45');
        await record('traffic.submitted', 'Route 53 change C2OZYU9MBNNQ7X submitted: legacy 20% -> 100%');
        clock = at('09:06:20');
        await ctx.progress('Route 53 change C2OZYU9MBNNQ7X is INSYNC');
        await record('traffic.in_sync', 'Route 53 reports INSYNC');
        clock = at('09:11:20');
        await record('traffic.converged', 'Clients converged (TTL 300 s elapsed)');
        return { ok: true, summary: 'payments is on legacy 100%' };
      },
      async recheck() {
        return { ok: true, summary: 'rechecked' };
      },
    };
  }

  /** Declare, pin, contain with bob's approval, capture evidence, audit the ledger, resolve. */
  async function scriptIncident(opts: { resolve: boolean }) {
    await t.command('alice', '/incident', 'declare payments sev=1 Cloud pods OOMKilled, payments failing');
    clock = at('09:02:00');
    // carol's message as Slack stores it, with its own ts (09:02:00Z); alice reacts with the pin emoji.
    const said = { channel: CHANNEL, ts: '1795683720.000200' };
    t.chat.messages.set(said.ts, {
      channel: CHANNEL,
      text: 'heap at 97% on payments-7f9c | OOMKilled x3',
      user: 'U0CAROL',
    });
    clock = at('09:02:30');
    await t.bot.handleReaction({ reaction: 'pushpin', user: USERS.alice, item: said });

    clock = at('09:03:10');
    const incident = await t.bot.deps.incidents.active(CHANNEL);
    assert.ok(incident);
    const action = await t.bot.deps.approvals.request<Shift>({
      kind: 'traffic.shift',
      incident,
      step: 'C',
      summary: 'Shift payments to legacy 100%',
      basis: { legacy: 20, cloud: 80, ttl: 300 },
      change: { legacy: 100, cloud: 0 },
      requester: { type: 'user', ...USERS.alice },
    });
    await t.bot.idle();
    clock = at('09:05:40');
    await t.click('bob', APPROVE_ACTION, action.id);

    clock = at('09:15:00');
    const evidence: EvidenceEventData = {
      uri: `file://${dir}/INC-1/heap-payments-7f9c.hprof`,
      kind: 'heap',
      pod: 'payments-7f9c',
      container: 'app',
      node: 'ip-10-0-3-17',
      imageDigest: 'sha256:4f1c0ffee',
      command: ['jcmd', '1', 'GC.heap_dump', '/tmp/heap.hprof'],
      size: HEAP.length,
      sha256: HEAP_SHA,
      startedAt: '2026-11-26T09:14:20.000Z',
      endedAt: '2026-11-26T09:15:00.000Z',
      requestedBy: 'alice',
    };
    await t.bot.deps.incidents.record('INC-1', {
      step: 'L',
      kind: 'evidence.captured',
      actor: { type: 'user', ...USERS.alice },
      summary: 'Heap dump of payments-7f9c/app preserved (1.0 MiB)',
      data: { ...evidence, extraFieldFromTheFuture: { ignored: true } },
      stepState: 'done',
    });
    clock = at('09:20:00');
    const audit: LedgerAuditEventData = {
      counts: {
        missing_in_legacy: 0,
        missing_in_cloud: 3,
        mismatched: 1,
        partial: 0,
        invariant: 0,
        in_flight: 2,
      },
      rowsCompared: 48_213,
      durationMs: 8200,
      since: '2026-11-26T08:30:00.000Z',
      cdc: { healthy: false, lagSeconds: 240, detail: 'replication slot payments_cdc is 240 s behind' },
    };
    await t.bot.deps.incidents.record('INC-1', {
      step: 'O',
      kind: 'ledger.audited',
      actor: { type: 'user', ...USERS.carol },
      summary: 'Ledger audit: 4 divergent rows of 48213',
      data: { ...audit },
      stepState: 'in_progress',
    });
    if (opts.resolve) {
      clock = at('09:40:00');
      await t.command('alice', '/incident', 'resolve traffic on legacy, cloud drained');
    }
    clock = at('09:45:00');
    return action;
  }

  it('writes the draft from what happened: key times, approvers, change, evidence hash, ledger, missing steps, follow-ups', async () => {
    const action = await scriptIncident({ resolve: true });
    const stored = await t.bot.deps.approvals.get(action.id);

    const replies = await t.command('carol', '/postmortem');

    const mdPath = join(dir, 'INC-1', 'postmortem-INC-1.md');
    const jsonPath = join(dir, 'INC-1', 'postmortem-INC-1.json');
    assert.ok(existsSync(mdPath) && existsSync(jsonPath), 'both files under the evidence dir');
    const md = readFileSync(mdPath, 'utf8');
    const doc = JSON.parse(readFileSync(jsonPath, 'utf8')) as Postmortem;

    // Summary and key times, in UTC, with durations from the declaration.
    assert.match(md, /^# Post-mortem: INC-1 · payments · SEV1$/m);
    assert.match(md, /^\| Status \| Resolved 2026-11-26 09:40:00Z: traffic on legacy, cloud drained \|$/m);
    assert.match(md, /^\| Commander \| alice \(U0ALICE\) \|$/m);
    assert.match(md, /^\| PagerDuty \| not linked \|$/m);
    for (const row of [
      '| Declared | 2026-11-26 09:00:00Z | 0s |',
      '| First containment requested | 2026-11-26 09:03:10Z | 3m 10s |',
      '| Containment approved | 2026-11-26 09:05:40Z | 5m 40s |',
      '| DNS in sync | 2026-11-26 09:06:20Z | 6m 20s |',
      '| Clients converged | 2026-11-26 09:11:20Z | 11m 20s |',
      '| Resolved | 2026-11-26 09:40:00Z | 40m |',
    ]) {
      assert.ok(md.includes(row), `key time row ${row}`);
    }
    assert.ok(md.includes('**Time to contain: 11m 20s** (declared → clients converged).'));
    assert.ok(md.includes('**Time to approve: 2m 30s** (first containment requested → approved by bob).'));

    // Steps: what was not done says so.
    assert.ok(md.includes('| C Contain the blast radius | done |'));
    assert.ok(md.includes('| L Log telemetry | done |'));
    assert.ok(md.includes('| O Orchestrate clean-state rollback | in progress (not finished) |'));
    assert.ok(md.includes('| U Uncover the root cause offline | **not done** |'));
    assert.ok(md.includes('| D Develop automated circuit breakers | **not done** |'));

    // The risky action: requester, approver, before -> after, the hash the approval was bound to, the result.
    assert.ok(md.includes('### 1. Shift payments to legacy 100% (traffic.shift): succeeded'));
    assert.ok(md.includes('- Requested by alice (U0ALICE) at 2026-11-26 09:03:10Z'));
    assert.ok(md.includes('- Approved by bob (U0BOB) at 2026-11-26 09:05:40Z, 2m 30s after the request'));
    assert.ok(md.includes('- Changed: `legacy 20% / cloud 80%` -> `legacy 100% / cloud 0%`'));
    assert.ok(stored?.changeHash);
    assert.ok(md.includes(`- Approval bound to change hash \`${stored.changeHash}\``));
    assert.ok(
      md.includes(
        '- Result: succeeded at 2026-11-26 09:11:20Z (5m 40s after approval): payments is on legacy 100%',
      ),
    );

    // Evidence with its exact size and SHA-256; the ledger counts and CDC state.
    assert.ok(md.includes(`| 1.0 MiB (${HEAP.length} B) | \`${HEAP_SHA}\` | alice |`));
    assert.ok(
      md.includes(
        '| 2026-11-26 09:20:00Z | 2026-11-26 08:30:00Z | 48213 | 0 | 3 | 1 | 0 | 0 | 2 | unhealthy, lag 240s: replication slot payments_cdc is 240 s behind |',
      ),
    );
    assert.ok(md.includes('Reconciliation: none recorded.'));
    assert.ok(md.includes('No sandbox was run.'));
    assert.ok(md.includes('No breaker was armed.'));

    // The pinned message, with its permalink; pipes in people's text do not break the table.
    assert.match(
      md,
      /📌 heap at 97% on payments-7f9c \\\| OOMKilled x3 \(\[message\]\(https:\/\/example\.slack\.com\/archives\/C0INCIDENT\/p1795683720000200\), written 2026-11-26 09:02:00Z by U0CAROL\)/,
    );

    // Integrity: the head in the document is the chain's head when it was generated, i.e. the event just before.
    const all = await t.bot.deps.timeline.read('INC-1');
    const generatedEvent = all.find((e) => e.kind === 'postmortem.generated');
    const head = generatedEvent?.prev;
    assert.ok(head);
    assert.equal((generatedEvent?.data as { head: string }).head, head);
    assert.ok(
      md.includes(
        `✅ Hash chain verified: ${all.length - 1} events, each committing to the one before; head \`${head}\`.`,
      ),
    );

    // Follow-ups derived from what happened, each with its reason; nothing invented.
    const followUps = doc.followUps.map((f) => f.title);
    assert.deepEqual(followUps, [
      'Lower the DNS TTL to 60s or less before the next migration step',
      'Arm the circuit breaker before resuming the migration (/breaker arm)',
      'Fix CDC replication between legacy and cloud before the next cutover',
      'Reconcile the ledger (/ledger reconcile) and re-audit',
    ]);
    assert.match(
      md,
      /1\. \*\*Lower the DNS TTL to 60s or less before the next migration step\*\*: The shift at 2026-11-26 09:05:45Z ran with a TTL of 300s \(limit 60s\)/,
    );
    assert.match(
      md,
      /No breaker was armed during INC-1, so containment waited for people: time to contain 11m 20s, of which approval took 2m 30s/,
    );
    assert.match(
      md,
      /reported CDC unhealthy \(lag 240s, limit 60s\): replication slot payments_cdc is 240 s behind/,
    );
    assert.match(
      md,
      /found 4 divergent rows \(3 missing in cloud, 1 mismatched\) and no reconciliation followed/,
    );

    // Human sections are marked and empty.
    for (const title of ['Root cause', 'Impact', 'What went well', 'What went wrong', 'Where we got lucky']) {
      assert.ok(
        md.includes(`## ✍️ ${title}\n\n<!-- HUMAN SECTION: written by people, never by the bot.`),
        title,
      );
    }
    assert.ok(doc.humanSections.every((h) => h.content === null));

    // The JSON twin carries the same facts.
    assert.equal(doc.schema, 'cloud-safety.postmortem/v1');
    assert.equal(doc.durations.timeToContainMs, 11 * 60_000 + 20_000);
    assert.equal(doc.durations.timeToApproveMs, 150_000);
    assert.deepEqual(
      doc.actions[0]?.approvers.map((a) => a.id),
      ['U0BOB'],
    );
    assert.equal(doc.evidence.captured[0]?.sha256, HEAP_SHA);
    assert.equal(doc.evidence.captured[0]?.size, HEAP.length);
    assert.equal(doc.verification.ok, true);

    // Uploaded to the channel (Markdown with a comment, then JSON), recorded with the files' own SHA-256.
    const uploads = t.chat.sent.filter((s) => s.kind === 'upload');
    assert.deepEqual(
      uploads.map((u) => u.file?.filename),
      ['postmortem-INC-1.md', 'postmortem-INC-1.json'],
    );
    assert.equal(String(uploads[0]?.file?.content), md);
    assert.match(uploads[0]?.file?.comment ?? '', /hash chain verified/);
    const generated = (await t.bot.deps.timeline.read('INC-1')).filter(
      (e) => e.kind === 'postmortem.generated',
    );
    assert.equal(generated.length, 1);
    const data = generated[0]?.data as {
      markdown: { sha256: string; path: string };
      json: { sha256: string };
    };
    assert.equal(data.markdown.sha256, createHash('sha256').update(readFileSync(mdPath)).digest('hex'));
    assert.equal(data.json.sha256, createHash('sha256').update(readFileSync(jsonPath)).digest('hex'));
    assert.equal(data.markdown.path, mdPath);

    // The reply: the numbers and where the files are.
    const reply = textOf(replies[0]);
    assert.match(reply, /Post-mortem draft INC-1/);
    assert.match(reply, /11m 20s \(to clients converged\)/);
    assert.ok(reply.includes('*Steps not done*\\nO U D'), 'O is in progress, U and D never started');
    assert.ok(reply.includes(mdPath));

    // Regenerating overwrites the files and records again; the new draft includes the first generation.
    clock = at('10:00:00');
    await t.command('carol', '/postmortem');
    const again = readFileSync(mdPath, 'utf8');
    assert.notEqual(again, md);
    assert.match(again, /carol generated the post-mortem draft from \d+ events/);
    assert.equal(
      (await t.bot.deps.timeline.read('INC-1')).filter((e) => e.kind === 'postmortem.generated').length,
      2,
    );
  });

  it('drafts an open incident, showing what has not happened yet as not done', async () => {
    await t.command('alice', '/incident', 'declare payments sev=2');
    clock = at('09:04:00');
    const replies = await t.command('alice', '/postmortem');
    const md = readFileSync(join(dir, 'INC-1', 'postmortem-INC-1.md'), 'utf8');
    assert.match(md, /^# Post-mortem \(DRAFT, incident still open\): INC-1/m);
    assert.ok(md.includes('| Status | **Open** |'));
    assert.ok(md.includes('| First containment requested | **not done** | — |'));
    assert.ok(md.includes('| Clients converged | **not done** | — |'));
    assert.ok(md.includes('| Resolved | not yet (open) | — |'));
    assert.ok(md.includes('**Time to contain: not contained on this timeline.**'));
    assert.ok(md.includes('No risky action was requested.'));
    assert.ok(md.includes('No evidence was captured.'));
    assert.match(md, /\*\*Containment was never recorded: check how traffic left the failing stack\*\*/);
    assert.match(textOf(replies[0]), /Post-mortem draft \(open incident\) INC-1/);
  });

  it('says so when the stored timeline no longer verifies', async () => {
    await t.command('alice', '/incident', 'declare payments');
    // Someone writes an event straight into the stream, bypassing the chain's hashing.
    const head = await store.get(TimelineLog.headKey('INC-1'));
    const forged = {
      at: '2026-11-26T09:01:00.000Z',
      incident: 'INC-1',
      step: 'C',
      kind: 'action.approved',
      actor: { type: 'user', id: 'U0MALLORY', name: 'mallory' },
      summary: 'mallory approved: everything',
      data: {},
      prev: head,
      hash: sha256('forged'),
    };
    await store.appendChained(
      TimelineLog.streamKey('INC-1'),
      TimelineLog.headKey('INC-1'),
      head,
      forged.hash,
      {
        event: JSON.stringify(forged),
      },
    );
    await t.command('alice', '/postmortem');
    const md = readFileSync(join(dir, 'INC-1', 'postmortem-INC-1.md'), 'utf8');
    assert.match(
      md,
      /❌ Hash chain BROKEN at event 2 \(\S+\): its content does not match its hash \(it was edited\)/,
    );
    assert.match(md, /\*\*Find out who or what changed the stored timeline\*\*/);
  });

  it('refuses arguments and a channel without an incident, writing and uploading nothing', async () => {
    const args = await t.command('alice', '/postmortem', 'INC-1');
    assert.match(textOf(args[0]), /\/postmortem takes no arguments/);
    const none = await t.command('alice', '/postmortem');
    assert.match(textOf(none[0]), /This channel has no incident yet, so there is nothing to write up/);
    assert.equal(existsSync(join(dir, 'INC-1')), false);
    assert.deepEqual(
      t.chat.sent.filter((s) => s.kind === 'upload'),
      [],
    );
  });
});
