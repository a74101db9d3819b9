// /ledger lock when the COMMIT's answer is lost (a TCP fault proxy in front of real PostgreSQL): the outcome is read
// from the grants, never assumed from the error.
import assert from 'node:assert/strict';
import pg from 'pg';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import type { RedisStore } from '../../src/store/redis.ts';
import { makeTestBot, testConfig, type TestBot } from '../support/bot.ts';
import {
  clonePair,
  dropPair,
  ledgerSection,
  seededTemplates,
  type SeededPair,
} from '../support/ledger-seed.ts';
import { adminQuery, createRole, dropRole, testPostgres, type PgServer } from '../support/postgres.ts';
import { isolatedRedisStore } from '../support/redis.ts';
import { startTcpFaultProxy, type TcpFaultProxy } from '../support/tcp-fault-proxy.ts';

describe('ledger lock with a lost COMMIT answer (real PostgreSQL behind a TCP fault proxy)', function () {
  this.timeout(60_000);
  let server: PgServer;
  let pair: SeededPair;
  let role: string;
  let store: RedisStore;
  let proxy: TcpFaultProxy;
  let t: TestBot;

  before(async () => {
    server = await testPostgres();
    const tpl = await seededTemplates(server);
    pair = await clonePair(server, tpl.pair);
    role = await createRole(server);
    await adminQuery(
      server.url(pair.cloud),
      `GRANT SELECT, INSERT, UPDATE, DELETE ON public.ledger_entries TO ${role}`,
    );
    const direct = new URL(server.url(pair.cloud));
    proxy = await startTcpFaultProxy({ host: direct.hostname, port: Number(direct.port) });
    const viaProxy = new URL(direct);
    viaProxy.port = String(proxy.port);
    store = await isolatedRedisStore();
    const config = testConfig({
      services: {
        payments: {
          ledger: { ...ledgerSection(server.url(pair.legacy), viaProxy.toString()), lock: { role } },
        },
      },
    });
    t = makeTestBot({ config, store });
    await t.command('alice', '/incident', 'declare payments');
  });

  after(async () => {
    await t.bot.stop();
    await t.bot.deps.adapters.ledger?.close();
    await proxy.stop();
    await store.close();
    await dropPair(server, pair);
    await dropRole(server, role, []);
  });

  async function writerCanInsert(): Promise<boolean> {
    const client = new pg.Client({ connectionString: server.url(pair.cloud, role) });
    client.on('error', () => {});
    await client.connect();
    try {
      const { rows } = await client.query<{ ok: boolean }>(
        `SELECT has_table_privilege(current_user, 'public.ledger_entries', 'INSERT') AS ok`,
      );
      return rows[0]?.ok ?? false;
    } finally {
      await client.end();
    }
  }

  it('the revoke committed but its answer was lost: the card says the lock is in place, read from the grants', async () => {
    await t.command('alice', '/ledger', 'lock');
    const [request] = (await t.bot.deps.approvals.listForIncident('INC-1')).filter(
      (a) => a.kind === 'ledger.lock',
    );
    assert.ok(request);
    assert.equal(await writerCanInsert(), true);

    proxy.loseAnswerTo('COMMIT');
    await t.click('bob', APPROVE_ACTION, request.id);
    await t.bot.idle();

    assert.equal(proxy.lost, 1, 'the COMMIT reached PostgreSQL and its answer was lost');
    assert.equal(await writerCanInsert(), false, 'the lock is in place');
    const done = await t.bot.deps.approvals.get(request.id);
    assert.equal(done?.state, 'succeeded', done?.result?.summary);
    const summary = done?.result?.summary ?? '';
    assert.doesNotMatch(summary, /FAILED|Nothing was changed/);
    assert.match(
      summary,
      new RegExp(
        `Seen by reading back: the lock transaction failed \\(.+\\), but the grants read back show ${role} can no longer write: the lock is in place`,
      ),
    );
    const locked = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'ledger.locked');
    assert.match(String(locked?.data.observed), /the lock is in place/);
  });
});
