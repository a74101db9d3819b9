// The drill's ledgers when the machine has no PostgreSQL the drill can use: two embedded PostgreSQL servers (PGlite,
// PostgreSQL compiled to WASM) in this process, each served over the PostgreSQL wire protocol on a free loopback
// port, so the production adapter reaches them through `pg` exactly as it reaches a real server.
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { ddl, divergenceSql, writerRoleSql } from './ledger.ts';
import type { Scenario } from './scenario.ts';

export interface EmbeddedLedger {
  legacy: string;
  cloud: string;
  stop: () => Promise<void>;
}

interface Served {
  db: PGlite;
  server: PGLiteSocketServer;
  url: string;
}

async function serve(name: string, sql: string[]): Promise<Served> {
  const db = await PGlite.create();
  try {
    for (const statement of sql) await db.exec(statement);
    // PGlite is one backend: the socket server queues every connection's queries and keeps a transaction to the
    // connection that opened it. The adapter's pool (4 per side) and its lock-holder probe each take one.
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
    await server.start();
    const port = server.getServerConn().split(':').pop() ?? '';
    return { db, server, url: `postgres://postgres@127.0.0.1:${port}/${name}` };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

async function close(side: Served): Promise<void> {
  await side.server.stop().catch(() => {});
  await side.db.close().catch(() => {});
}

/** Two embedded ledgers, the cloud copy diverged as the scenario says; stop() ends both servers. */
export async function startEmbeddedLedger(scenario: Scenario): Promise<EmbeddedLedger> {
  // Both sides are seeded separately: one instant for both, so the copies agree wherever the scenario says they do.
  const anchor = `'${new Date().toISOString()}'::timestamptz`;
  const base = ddl(scenario.ledger.rows, anchor);
  const divergence = divergenceSql(scenario.ledger);
  // Each instance runs its own initdb (seconds under load): both at once.
  const started = await Promise.allSettled([
    serve('legacy', [base]),
    serve('cloud', [base, ...(divergence ? [divergence] : []), writerRoleSql(scenario)]),
  ]);
  const [legacy, cloud] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  if (!legacy || !cloud) {
    await Promise.all([legacy, cloud].map((side) => side && close(side)));
    throw started.find((s) => s.status === 'rejected')?.reason;
  }
  return {
    legacy: legacy.url,
    cloud: cloud.url,
    stop: async () => {
      await Promise.all([close(legacy), close(cloud)]);
    },
  };
}
