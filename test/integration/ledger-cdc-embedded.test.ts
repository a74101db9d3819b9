// The CDC check against the drill's embedded ledgers (two PGlite servers over the wire protocol): PGlite has no
// logical replication, so the check says it cannot run there and why, instead of "does not exist".
import assert from 'node:assert/strict';
import { loadScenario } from '../../src/drill/scenario.ts';
import { startEmbeddedLedger, type EmbeddedLedger } from '../../src/drill/ledger-embedded.ts';
import { auditAll, hoursAgo, pgLedgerAt } from '../support/ledger.ts';

describe('ledger CDC health on an embedded PostgreSQL (PGlite)', function () {
  // Each PGlite instance runs its own initdb: tens of seconds on a loaded machine.
  this.timeout(180_000);
  let pair: EmbeddedLedger;

  before(async () => {
    pair = await startEmbeddedLedger(loadScenario('seed'));
  });
  after(async () => {
    await pair?.stop();
  });

  for (const [cdc, what] of [
    [
      { kind: 'pg-subscription', subscription: 'ledger_sync' },
      'subscription ledger_sync and its replication slot',
    ],
    [{ kind: 'pg-slot', slot: 'ledger_sync', on: 'cloud' }, 'slot ledger_sync'],
  ] as const) {
    it(`${cdc.kind}: says the check cannot run there and why`, async () => {
      const ledger = pgLedgerAt(pair.legacy, pair.cloud, {
        cdc,
        // The drill's table (src/drill/ledger.ts): no memo column.
        table: 'public.ledger_entries',
        columns: ['txn_id', 'account', 'side', 'amount', 'currency', 'payload', 'updated_at'],
      });
      try {
        const health = await ledger.cdcHealth();
        assert.equal(health?.kind, cdc.kind);
        assert.equal(health?.healthy, false);
        const sides =
          cdc.kind === 'pg-slot'
            ? 'cloud is an embedded PostgreSQL \\(PGlite [\\d.]+\\)'
            : 'legacy is an embedded PostgreSQL \\(PGlite [\\d.]+\\) and cloud is an embedded PostgreSQL \\(PGlite [\\d.]+\\)';
        assert.match(
          health?.detail ?? '',
          new RegExp(
            `^the CDC check cannot run: ${sides}, a single WASM backend with no WAL sender and no background workers, so logical replication \\(and ${what}\\) cannot exist there`,
          ),
        );
        // The audit itself runs there: the same SQL, the scenario's divergence.
        const { result } = await auditAll(ledger, hoursAgo(3), { inFlightMs: 0 });
        assert.deepEqual(
          { legacy: result.counts.missing_in_legacy, cloud: result.counts.missing_in_cloud },
          { legacy: 4, cloud: 0 },
        );
      } finally {
        await ledger.close();
      }
    });
  }
});
