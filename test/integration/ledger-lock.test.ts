// /ledger lock, unlock and reconcile on real PostgreSQL privileges, through the two-person approval flow on real Redis.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { makeTestBot, testConfig, textOf, type TestBot } from '../support/bot.ts';
import { hoursAgo } from '../support/ledger.ts';
import {
  clonePair,
  dropPair,
  ledgerSection,
  plantInFlight,
  seededTemplates,
  type SeededPair,
  type Templates,
} from '../support/ledger-seed.ts';
import { adminQuery, createRole, dropRole, testPostgres, type PgServer } from '../support/postgres.ts';
import { isolatedRedisStore } from '../support/redis.ts';

describe('ledger lock, unlock and reconcile (real PostgreSQL privileges)', function () {
  this.timeout(60_000);
  let server: PgServer;
  let tpl: Templates;
  let pair: SeededPair;
  let role: string;
  let store: RedisStore;
  let t: TestBot;
  let evidence: string;
  let inFlight: string[];

  before(async () => {
    server = await testPostgres();
    tpl = await seededTemplates(server);
    pair = await clonePair(server, tpl.pair);
    role = await createRole(server);
    await adminQuery(
      server.url(pair.cloud),
      `GRANT SELECT, INSERT, UPDATE, DELETE ON public.ledger_entries TO ${role}`,
    );
    inFlight = await plantInFlight(server, pair);
    store = await isolatedRedisStore();
    evidence = mkdtempSync(join(tmpdir(), 'cs-evidence-'));
    const config = testConfig({
      evidence: { dir: evidence },
      services: {
        payments: {
          ledger: { ...ledgerSection(server.url(pair.legacy), server.url(pair.cloud)), lock: { role } },
        },
      },
    });
    t = makeTestBot({ config, store });
    await t.command('alice', '/incident', 'declare payments');
  });

  after(async () => {
    await t.bot.stop();
    await t.bot.deps.adapters.ledger?.close();
    await store.close();
    await dropPair(server, pair);
    await dropRole(server, role, []);
    rmSync(evidence, { recursive: true, force: true });
  });

  /** A connection as the cloud writer role. */
  async function asWriter(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: server.url(pair.cloud, role) });
    client.on('error', () => {});
    await client.connect();
    return client;
  }

  /** Whether the writer can insert (inside a transaction that is rolled back: nothing stays). */
  async function writerCanInsert(): Promise<boolean | string> {
    const client = await asWriter();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO public.ledger_entries SELECT id + 900000, txn_id, account, side, amount,
                            currency, payload, memo, updated_at FROM public.ledger_entries WHERE id = 1`);
      await client.query('ROLLBACK');
      return true;
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    } finally {
      await client.end().catch(() => {});
    }
  }

  async function grantsOfRole(): Promise<string[]> {
    const rows = await adminQuery<{ p: string }>(
      server.url(pair.cloud),
      `SELECT a.privilege_type AS p FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = 'public.ledger_entries'::regclass AND a.grantee = $1::regrole ORDER BY 1`,
      [role],
    );
    return rows.map((r) => r.p);
  }

  async function approveLatest(): Promise<string> {
    const actions = await t.bot.deps.approvals.listForIncident('INC-1');
    const latest = actions[actions.length - 1];
    assert.ok(latest);
    assert.equal(latest.state, 'requested');
    const replies = await t.click('bob', APPROVE_ACTION, latest.id);
    assert.deepEqual(replies, []);
    const done = await t.bot.deps.approvals.get(latest.id);
    assert.equal(done?.state, 'succeeded', done?.result?.summary);
    return done?.result?.summary ?? '';
  }

  it('refuses to reconcile while the cloud writers can still write, and requests nothing', async () => {
    const replies = await t.command('alice', '/ledger', 'reconcile');
    assert.match(
      textOf(replies[0]),
      new RegExp(
        `Refused: the cloud writers \\(role ${role}\\) can still write to public\\.ledger_entries\\. Lock them first`,
      ),
    );
    assert.deepEqual(await t.bot.deps.approvals.listForIncident('INC-1'), []);
  });

  it('refuses at execution when the grants changed after the request, and changes nothing', async () => {
    await t.command('alice', '/ledger', 'lock');
    await adminQuery(server.url(pair.cloud), `REVOKE DELETE ON public.ledger_entries FROM ${role}`);
    const actions = await t.bot.deps.approvals.listForIncident('INC-1');
    const request = actions[actions.length - 1];
    assert.ok(request);

    await t.click('bob', APPROVE_ACTION, request.id);

    const done = await t.bot.deps.approvals.get(request.id);
    assert.equal(done?.state, 'failed');
    assert.match(
      done?.result?.summary ?? '',
      /grants of .* changed since the request \(now INSERT, UPDATE, approved DELETE, INSERT, UPDATE\)\. Nothing was changed/,
    );
    assert.deepEqual(await grantsOfRole(), ['INSERT', 'SELECT', 'UPDATE']);
    assert.equal(await writerCanInsert(), true);
    await adminQuery(server.url(pair.cloud), `GRANT DELETE ON public.ledger_entries TO ${role}`);
  });

  it('locks after a second person approves: the role cannot insert, its sessions are ended', async () => {
    assert.equal(await writerCanInsert(), true);
    const held = await asWriter();
    const replies = await t.command('alice', '/ledger', 'lock');
    assert.match(textOf(replies[0]), /Approval requested \(act-[0-9a-f]{8}\) to lock/);
    assert.equal(await writerCanInsert(), true, 'nothing changes before approval');

    const summary = await approveLatest();

    assert.match(
      summary,
      new RegExp(
        `Revoked DELETE, INSERT, UPDATE from ${role} on public\\.ledger_entries and ended 1 session`,
      ),
    );
    assert.equal(await writerCanInsert(), '42501', 'insufficient_privilege while locked');
    await assert.rejects(held.query('SELECT 1'), 'the open session was ended');
    await held.end().catch(() => {});
    assert.deepEqual(await grantsOfRole(), ['SELECT']);
    const events = await t.bot.deps.timeline.read('INC-1');
    const locked = events.find((e) => e.kind === 'ledger.locked');
    assert.deepEqual(locked?.data.privileges, ['DELETE', 'INSERT', 'UPDATE']);
    assert.equal(locked?.data.terminated, 1);
    const again = await t.command('alice', '/ledger', 'lock');
    assert.match(textOf(again[0]), /already cannot write to public\.ledger_entries; nothing to lock/);
  });

  it('reconciles after a dry run and approval: copies missing_in_legacy rows once, never overwrites or deletes', async () => {
    const replies = await t.command('alice', '/ledger', 'reconcile');
    assert.match(textOf(replies[0]), /Dry run done: 6 row\(s\) would be copied\. Approval requested/);
    const dryRun = t.chat.sent.find(
      (s) => s.kind === 'post' && /Reconcile dry run for payments/.test(s.message?.text ?? ''),
    );
    assert.ok(dryRun?.threadTs, 'the dry run is posted in the audit thread');
    const statements = JSON.stringify(dryRun.message?.blocks ?? []).replace(/\\"/g, '"');
    assert.match(
      statements,
      /INSERT INTO "public"\."ledger_entries" \("id", "txn_id".*VALUES \('200001', '100001'.*ON CONFLICT \("id"\) DO NOTHING;/,
    );
    const legacyBefore = await adminQuery<{ n: string }>(
      server.url(pair.legacy),
      'SELECT count(*) AS n FROM public.ledger_entries',
    );

    const summary = await approveLatest();

    assert.match(
      summary,
      /Copied 6 row\(s\) into legacy \(0 already there, 0 gone from cloud\)\. missing_in_legacy 6 → 0; mismatched 8 → 8; partial 5 → 5; invariant 3 → 3/,
    );
    const legacyAfter = await adminQuery<{ n: string }>(
      server.url(pair.legacy),
      'SELECT count(*) AS n FROM public.ledger_entries',
    );
    assert.equal(Number(legacyAfter[0]?.n) - Number(legacyBefore[0]?.n), 6);
    const rowsOf = async (url: string, ids: string[]) =>
      (
        await adminQuery<{ r: string }>(
          url,
          'SELECT row_to_json(e)::text AS r FROM public.ledger_entries e WHERE id = ANY($1::bigint[]) ORDER BY id',
          [ids],
        )
      ).map((x) => x.r);
    assert.deepEqual(
      await rowsOf(server.url(pair.legacy), tpl.planted.missingInLegacy),
      await rowsOf(server.url(pair.cloud), tpl.planted.missingInLegacy),
      'copied rows are identical, value for value',
    );
    const untouched = await adminQuery<{ memo: string }>(
      server.url(pair.legacy),
      'SELECT memo FROM public.ledger_entries WHERE id = 130001',
    );
    assert.equal(untouched[0]?.memo, 'entry 130001', 'mismatched rows are not overwritten');
    const kept = await adminQuery<{ n: string }>(
      server.url(pair.legacy),
      'SELECT count(*) AS n FROM public.ledger_entries WHERE id IN (120001, 120002, 120003, 120004)',
    );
    assert.equal(kept[0]?.n, '4', 'missing_in_cloud rows are not deleted from legacy');
    const flying = await adminQuery<{ n: string }>(
      server.url(pair.legacy),
      'SELECT count(*) AS n FROM public.ledger_entries WHERE id = ANY($1::bigint[])',
      [inFlight],
    );
    assert.equal(flying[0]?.n, '0', 'in-flight rows are not copied');

    const events = await t.bot.deps.timeline.read('INC-1');
    const reconciled = events.find((e) => e.kind === 'ledger.reconciled');
    assert.equal(reconciled?.data.inserted, 6);
    assert.equal((reconciled?.data.before as Record<string, number>).missing_in_legacy, 6);
    assert.equal((reconciled?.data.after as Record<string, number>).missing_in_legacy, 0);
    assert.ok(events.some((e) => e.kind === 'ledger.audited' && e.data.title === 'Re-audit after reconcile'));
    assert.equal(
      (await t.bot.deps.incidents.get('INC-1'))?.checklist.O.state,
      'in_progress',
      'mismatched rows remain',
    );

    const second = await t.command('alice', '/ledger', 'reconcile');
    assert.match(textOf(second[0]), /Nothing to copy: the dry run found no missing_in_legacy rows/);
    const ledger = t.bot.deps.adapters.ledger?.get('payments');
    const direct = await ledger?.reconcile(tpl.planted.missingInLegacy);
    assert.deepEqual(
      direct,
      { inserted: 0, alreadyPresent: 6, goneFromCloud: 0 },
      'a second copy copies nothing',
    );
    const audit = await ledger?.audit({ since: hoursAgo(2), inFlightMs: 60_000 });
    assert.equal(audit?.counts.missing_in_legacy, 0);
  });

  it('unlocks after approval, granting back exactly what was revoked', async () => {
    const replies = await t.command('alice', '/ledger', 'unlock');
    assert.match(
      textOf(replies[0]),
      /Approval requested \(act-[0-9a-f]{8}\) to grant .* its privileges back/,
    );

    const summary = await approveLatest();

    assert.match(summary, /Granted DELETE, INSERT, UPDATE back/);
    assert.deepEqual(await grantsOfRole(), ['DELETE', 'INSERT', 'SELECT', 'UPDATE']);
    assert.equal(await writerCanInsert(), true);
    const again = await t.command('alice', '/ledger', 'unlock');
    assert.match(textOf(again[0]), /cloud-safety has no lock on record for payments/);
  });
});
