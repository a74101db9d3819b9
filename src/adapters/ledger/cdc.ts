// CDC health between the two ledgers: a PostgreSQL subscription, a replication slot, or a Debezium connector.
import type { LedgerCdc } from '../../config.ts';
import type { CdcHealth, LedgerSide } from '../../ledger.ts';
import type { Metrics } from '../../metrics.ts';
import { cdcOnEmbedded } from './embedded.ts';
import type { LedgerSideDb } from './side.ts';

export interface CdcDeps {
  sides: Record<LedgerSide, LedgerSideDb>;
  metrics: Metrics;
  /** Resolved "user:password" for Debezium basic auth, when configured. */
  debeziumAuth?: string;
  fetch?: typeof fetch;
}

function mb(bytes: number): string {
  return bytes < 1024 * 1024 ? `${bytes} bytes` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

interface SlotRow {
  active: boolean;
  lag_bytes: string | null;
  wal_status: string | null;
}

async function readSlot(db: LedgerSideDb, slot: string): Promise<SlotRow | undefined> {
  return db.snapshot(async (session) => {
    const rows = await session.query<SlotRow>(
      'cdc',
      `SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag_bytes,
              wal_status
         FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    );
    return rows[0];
  });
}

function slotProblems(row: SlotRow | undefined, slot: string, side: LedgerSide, maxLagBytes: number) {
  if (!row) return { problems: [`slot ${slot} does not exist on ${side}`], lagBytes: undefined };
  const problems: string[] = [];
  const lagBytes = row.lag_bytes === null ? undefined : Number(row.lag_bytes);
  if (!row.active) problems.push(`slot ${slot} on ${side} is not active (no consumer connected)`);
  if (row.wal_status === 'lost') problems.push(`slot ${slot} on ${side} has lost WAL it still needed`);
  if (lagBytes !== undefined && lagBytes > maxLagBytes)
    problems.push(`slot ${slot} on ${side} is ${mb(lagBytes)} behind (limit ${mb(maxLagBytes)})`);
  return { problems, lagBytes };
}

async function subscription(
  cfg: Extract<LedgerCdc, { kind: 'pg-subscription' }>,
  deps: CdcDeps,
): Promise<CdcHealth> {
  const subscriber = cfg.subscriber;
  const publisher: LedgerSide = subscriber === 'legacy' ? 'cloud' : 'legacy';
  const slot = cfg.slot ?? cfg.subscription;
  const sub = await deps.sides[subscriber].snapshot(async (session) => {
    const rows = await session.query<{
      enabled: boolean;
      pid: number | null;
      end_age: number | null;
    }>(
      'cdc',
      `SELECT s.subenabled AS enabled, st.pid,
              extract(epoch FROM now() - st.latest_end_time)::float8 AS end_age
         FROM pg_subscription s
         LEFT JOIN pg_stat_subscription st ON st.subid = s.oid AND st.relid IS NULL
        WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [cfg.subscription],
    );
    return rows[0];
  });
  const problems: string[] = [];
  if (!sub) problems.push(`subscription ${cfg.subscription} does not exist on ${subscriber}`);
  else if (!sub.enabled) problems.push(`subscription ${cfg.subscription} on ${subscriber} is disabled`);
  else if (sub.pid === null)
    problems.push(`subscription ${cfg.subscription} on ${subscriber} has no running worker`);
  const slotRow = await readSlot(deps.sides[publisher], slot);
  const { problems: slotIssues, lagBytes } = slotProblems(slotRow, slot, publisher, cfg.maxLagBytes);
  problems.push(...slotIssues);
  // Time lag only means something while bytes are outstanding; an idle, caught-up subscription has none.
  const lagSeconds = lagBytes === 0 ? 0 : (sub?.end_age ?? undefined);
  if (lagSeconds !== undefined && lagBytes !== 0 && lagSeconds * 1000 > cfg.maxLag)
    problems.push(
      `last confirmed ${Math.round(lagSeconds)} s ago (limit ${Math.round(cfg.maxLag / 1000)} s)`,
    );
  const healthy = problems.length === 0;
  const lagText = `${lagBytes === undefined ? 'lag unknown' : `${mb(lagBytes)} behind`}${lagSeconds ? `, ${lagSeconds.toFixed(1)} s` : ''}`;
  return {
    kind: 'pg-subscription',
    healthy,
    detail: healthy
      ? `subscription ${cfg.subscription} (${publisher} → ${subscriber}) running, ${lagText}`
      : problems.join('; '),
    ...(lagSeconds !== undefined ? { lagSeconds } : {}),
    ...(lagBytes !== undefined ? { lagBytes } : {}),
  };
}

async function replicationSlot(
  cfg: Extract<LedgerCdc, { kind: 'pg-slot' }>,
  deps: CdcDeps,
): Promise<CdcHealth> {
  const row = await readSlot(deps.sides[cfg.on], cfg.slot);
  const { problems, lagBytes } = slotProblems(row, cfg.slot, cfg.on, cfg.maxLagBytes);
  return {
    kind: 'pg-slot',
    healthy: problems.length === 0,
    detail:
      problems.length === 0
        ? `slot ${cfg.slot} on ${cfg.on} active, ${lagBytes === undefined ? 'lag unknown' : `${mb(lagBytes)} behind`}`
        : problems.join('; '),
    ...(lagBytes !== undefined ? { lagBytes } : {}),
  };
}

interface ConnectorStatus {
  name?: string;
  connector?: { state?: string; worker_id?: string; trace?: string };
  tasks?: { id: number; state?: string; worker_id?: string; trace?: string }[];
  error_code?: number;
  message?: string;
}

async function debezium(cfg: Extract<LedgerCdc, { kind: 'debezium' }>, deps: CdcDeps): Promise<CdcHealth> {
  const url = `${cfg.url.replace(/\/+$/, '')}/connectors/${encodeURIComponent(cfg.connector)}/status`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (deps.debeziumAuth) headers.authorization = `Basic ${Buffer.from(deps.debeziumAuth).toString('base64')}`;
  const doFetch = deps.fetch ?? fetch;
  let response: Response;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error('no answer within 5 s')), 5000);
  try {
    response = await deps.metrics.timed('kafka-connect', 'status', () =>
      doFetch(url, { headers, signal: abort.signal }),
    );
  } catch (err) {
    clearTimeout(timer);
    return {
      kind: 'debezium',
      healthy: false,
      detail: `could not reach Kafka Connect for connector ${cfg.connector}: ${(err as Error).message}`,
    };
  }
  let body: ConnectorStatus;
  try {
    body = (await response.json()) as ConnectorStatus;
  } catch {
    body = {};
  } finally {
    clearTimeout(timer);
  }
  if (!response.ok) {
    return {
      kind: 'debezium',
      healthy: false,
      detail: `Kafka Connect answered ${response.status} for connector ${cfg.connector}${body.message ? `: ${body.message}` : ''}`,
    };
  }
  const problems: string[] = [];
  const state = body.connector?.state ?? 'UNKNOWN';
  if (state !== 'RUNNING') problems.push(`connector ${cfg.connector} is ${state}`);
  const tasks = body.tasks ?? [];
  if (tasks.length === 0) problems.push(`connector ${cfg.connector} has no tasks`);
  for (const task of tasks) {
    if (task.state !== 'RUNNING') {
      const trace = task.trace?.split('\n')[0];
      problems.push(`task ${task.id} is ${task.state ?? 'UNKNOWN'}${trace ? ` (${trace})` : ''}`);
    }
  }
  return {
    kind: 'debezium',
    healthy: problems.length === 0,
    detail:
      problems.length === 0
        ? `connector ${cfg.connector} and its ${tasks.length} task(s) RUNNING`
        : problems.join('; '),
  };
}

/** Never throws for an unhealthy or unreadable sync: that is a finding, reported loudly, not a crash. */
export async function checkCdc(cfg: LedgerCdc, deps: CdcDeps): Promise<CdcHealth> {
  try {
    const embedded = await cdcOnEmbedded(cfg, deps.sides);
    if (embedded) return embedded;
    if (cfg.kind === 'pg-subscription') return await subscription(cfg, deps);
    if (cfg.kind === 'pg-slot') return await replicationSlot(cfg, deps);
    return await debezium(cfg, deps);
  } catch (err) {
    return {
      kind: cfg.kind,
      healthy: false,
      detail: `could not read the CDC status: ${(err as Error).message}`,
    };
  }
}
