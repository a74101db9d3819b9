// An embedded PostgreSQL (PGlite: PostgreSQL compiled to WASM, one backend, served over the wire protocol) answers
// the ledger's SQL like a server, but some machinery does not exist there. The checks that need it say so.
import type { LedgerCdc } from '../../config.ts';
import type { CdcHealth, LedgerSide } from '../../ledger.ts';
import type { LedgerSideDb } from './side.ts';

const known = new WeakMap<LedgerSideDb, Promise<string | undefined>>();

/** "PGlite 0.5.14" when this side is an embedded PostgreSQL, read once from version(); undefined otherwise. */
export function embeddedBuild(db: LedgerSideDb): Promise<string | undefined> {
  let build = known.get(db);
  if (!build) {
    build = db
      .snapshot(async (session) => {
        const rows = await session.query<{ version: string }>('version', 'SELECT version() AS version');
        return /\(PGlite ([^)]+)\)/.exec(rows[0]?.version ?? '')?.[1];
      })
      .then(
        (version) => (version ? `PGlite ${version}` : undefined),
        (err: unknown) => {
          // Unreadable now: the check itself meets the same error and reports it. Ask again next time.
          known.delete(db);
          throw err;
        },
      );
    known.set(db, build);
  }
  return build;
}

/**
 * The CDC status when a side it needs is an embedded PostgreSQL: it has no logical replication, so the check cannot
 * run there and the sync cannot exist. Undefined when every side is a real server (or cannot be read yet).
 */
export async function cdcOnEmbedded(
  cfg: LedgerCdc,
  sides: Record<LedgerSide, LedgerSideDb>,
): Promise<CdcHealth | undefined> {
  // Debezium's status comes from Kafka Connect, which says itself that it has no slot to read.
  if (cfg.kind === 'debezium') return undefined;
  const found: string[] = [];
  for (const side of cfg.kind === 'pg-slot' ? [cfg.on] : (['legacy', 'cloud'] as const)) {
    const build = await embeddedBuild(sides[side]).catch(() => undefined);
    if (build) found.push(`${side} is an embedded PostgreSQL (${build})`);
  }
  if (found.length === 0) return undefined;
  const what =
    cfg.kind === 'pg-slot' ? `slot ${cfg.slot}` : `subscription ${cfg.subscription} and its replication slot`;
  return {
    kind: cfg.kind,
    healthy: false,
    detail:
      `the CDC check cannot run: ${found.join(' and ')}, a single WASM backend with no WAL sender and no ` +
      `background workers, so logical replication (and ${what}) cannot exist there; the two ledgers are not ` +
      'kept in sync, and /ledger reconcile is the only way rows reach legacy. Run the drill on a real PostgreSQL ' +
      '(CLOUD_SAFETY_DRILL_POSTGRES_URL) to rehearse CDC',
  };
}
