// One side of the ledger (legacy or cloud): its pool, read-only snapshot sessions, and errors that name the side.
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import { ExternalServiceError } from '../../errors.ts';
import type { LedgerSide } from '../../ledger.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import { formatDuration } from '../../duration.ts';

/** Where a connection string points, without its password: "db.internal:5432/ledger as app". */
export function describeTarget(connection: string): string {
  try {
    if (/^postgres(?:ql)?:\/\//i.test(connection)) {
      const url = new URL(connection);
      const host = url.hostname || url.searchParams.get('host') || 'localhost';
      const db = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default db)';
      const user = url.username ? ` as ${decodeURIComponent(url.username)}` : '';
      return `${host}:${url.port || '5432'}/${db}${user}`;
    }
  } catch {
    return '(unparseable connection string)';
  }
  const field = (name: string) => new RegExp(`(?:^|\\s)${name}\\s*=\\s*'?([^'\\s]+)`).exec(connection)?.[1];
  const user = field('user');
  return `${field('host') ?? 'localhost'}:${field('port') ?? '5432'}/${field('dbname') ?? '(default db)'}${user ? ` as ${user}` : ''}`;
}

interface PgLikeError {
  code?: string;
  message?: string;
  severity?: string;
}

const LOST =
  /Connection terminated|connection.*(?:closed|ended|lost|reset)|ECONNRESET|EPIPE|terminating connection/i;

/** The time limits every ledger connection runs with. */
export interface SideLimits {
  lockTimeoutMs: number;
  statementTimeoutMs: number;
}

export const DEFAULT_LIMITS: SideLimits = { lockTimeoutMs: 10_000, statementTimeoutMs: 30 * 60_000 };

/** Maps a driver or server error to a message that names the side and says what to do. */
export function sideError(
  side: LedgerSide,
  target: string,
  err: unknown,
  limits: SideLimits = DEFAULT_LIMITS,
): ExternalServiceError {
  if (err instanceof ExternalServiceError) return err;
  const e = (err ?? {}) as PgLikeError;
  const code = e.code ?? '';
  const message = (e.message ?? String(err)).split('\n')[0] ?? '';
  const service = `${side} database`;
  const wrap = (text: string, retryable = false) =>
    new ExternalServiceError(service, text, { cause: err, retryable });
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code))
    return wrap(
      `${target} is unreachable (${code}). Check the host, port and network path from the bot, then run it again. Nothing was changed.`,
      true,
    );
  if (
    /timeout exceeded when trying to connect|Connection terminated due to connection timeout/i.test(message)
  )
    return wrap(
      `${target} did not answer within the connect timeout. Check that the server is up and reachable, then run it again. Nothing was changed.`,
      true,
    );
  if (code === '28P01')
    return wrap(
      `${target} refused the password (wrong credentials). Fix the secret the config names for ledger.${side}, then run it again. Nothing was changed.`,
    );
  if (code === '28000')
    return wrap(
      `${target} rejected the login (${message}). Check the user and pg_hba.conf for ledger.${side}. Nothing was changed.`,
    );
  if (code === '3D000')
    return wrap(`${target}: ${message}. Check the database name in ledger.${side}. Nothing was changed.`);
  if (code === '42501')
    return wrap(
      `${target}: permission denied (${message}). docs/ledger.md lists the privileges the bot's user needs.`,
    );
  if (code === '57P01' || code === '57P02' || code === '57P03' || code.startsWith('08') || LOST.test(message))
    return wrap(
      `the connection to ${target} was lost (${message}). The audit FAILED: this is not a clean result. Run it again once the database is back.`,
      true,
    );
  if (code === '57014' && /statement timeout/i.test(message))
    return wrap(
      `${target}: a query ran longer than ledger.statementTimeout (${formatDuration(limits.statementTimeoutMs)}) and was cancelled. It FAILED: this is not a clean result. Audit a shorter window with since=, or raise ledger.statementTimeout.`,
      true,
    );
  if (code === '55P03') {
    const holder = (err as { lockHolder?: string }).lockHolder;
    return wrap(
      `${target}: gave up waiting for a lock after ledger.lockTimeout (${formatDuration(limits.lockTimeoutMs)}); ${holder ?? 'the holder had already let go when we looked'}. Nothing was changed. Ask the holder to commit or roll back (pg_cancel_backend(pid) cancels a running query, pg_terminate_backend(pid) ends an idle transaction), then run it again.`,
      true,
    );
  }
  if (code === '57014')
    return wrap(
      `${target}: the query was cancelled (${message}). The result is incomplete; run it again.`,
      true,
    );
  return wrap(`${target}: ${message}${code ? ` (SQLSTATE ${code})` : ''}`);
}

/** A checked-out connection that maps every failure to a side error; released exactly once. */
export class SideSession {
  readonly side: LedgerSide;
  readonly target: string;
  #client: PoolClient;
  #broken: unknown = null;
  #released = false;
  #onError = (err: Error) => {
    this.#broken = err;
  };
  #metrics: Metrics;
  #limits: SideLimits;
  #lockHolders: () => Promise<string | undefined>;

  constructor(
    side: LedgerSide,
    target: string,
    client: PoolClient,
    metrics: Metrics,
    limits: SideLimits = DEFAULT_LIMITS,
    lockHolders: () => Promise<string | undefined> = async () => undefined,
  ) {
    this.side = side;
    this.target = target;
    this.#client = client;
    this.#metrics = metrics;
    this.#limits = limits;
    this.#lockHolders = lockHolders;
    // A backend that dies while we hold the client emits 'error'; without a listener the process would crash.
    client.on('error', this.#onError);
  }

  async query<R extends QueryResultRow = QueryResultRow>(
    operation: string,
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    const result = await this.#send(operation, () => this.#client.query<R>(text, values));
    return result.rows;
  }

  /**
   * Several statements in one round trip (the simple protocol: no parameters, so values go in as literals);
   * the rows of each, in order. A failing statement fails the batch and skips the rest.
   */
  async batch(operation: string, statements: string[]): Promise<QueryResultRow[][]> {
    if (statements.length === 0) return [];
    const result: unknown = await this.#send(operation, () => this.#client.query(statements.join(';\n')));
    const results = (Array.isArray(result) ? result : [result]) as { rows: QueryResultRow[] }[];
    return results.map((r) => r.rows);
  }

  async #send<T>(operation: string, run: () => Promise<T>): Promise<T> {
    if (this.#broken) throw sideError(this.side, this.target, this.#broken, this.#limits);
    try {
      return await this.#metrics.timed(`ledger-${this.side}`, operation, run);
    } catch (err) {
      // Our transaction is aborted by a lock timeout: who holds the lock is read on another connection.
      if ((err as PgLikeError | undefined)?.code === '55P03' && !this.#broken) {
        const holder = await this.#lockHolders().catch(() => undefined);
        if (holder) Object.assign(err as object, { lockHolder: holder });
      }
      throw sideError(this.side, this.target, this.#broken ?? err, this.#limits);
    }
  }

  /** Runs `fn` inside a savepoint; a failure rolls back to it and returns undefined. */
  async attempt<T>(fn: () => Promise<T>): Promise<T | undefined> {
    await this.query('savepoint', 'SAVEPOINT cs_attempt');
    try {
      const value = await fn();
      await this.query('savepoint', 'RELEASE SAVEPOINT cs_attempt');
      return value;
    } catch (err) {
      if (this.#broken) throw err;
      await this.query('savepoint', 'ROLLBACK TO SAVEPOINT cs_attempt');
      return undefined;
    }
  }

  release(failed: boolean): void {
    if (this.#released) return;
    this.#released = true;
    this.#client.off('error', this.#onError);
    // A client that failed mid-transaction is destroyed, never handed back to the pool half-open.
    this.#client.release(failed || this.#broken !== null ? true : undefined);
  }

  /** The backend pid, for tests and for telling our own sessions apart. */
  async pid(): Promise<number> {
    const rows = await this.query<{ pid: number }>('pid', 'SELECT pg_backend_pid() AS pid');
    return rows[0]?.pid ?? 0;
  }
}

/** Session settings every audit transaction runs with: UTC, stable text forms, gentle on a live server. */
const SNAPSHOT_SETTINGS = [
  "SET LOCAL TimeZone = 'UTC'",
  "SET LOCAL DateStyle = 'ISO, YMD'",
  "SET LOCAL IntervalStyle = 'postgres'",
  'SET LOCAL extra_float_digits = 1',
  "SET LOCAL bytea_output = 'hex'",
  // JIT compiles each query for ~100 ms; the audit's queries are simple and many.
  'SET LOCAL jit = off',
  // The audit shares the server with production traffic: one core per side, never a parallel gang.
  'SET LOCAL max_parallel_workers_per_gather = 0',
  "SET LOCAL work_mem = '64MB'",
];

export interface Snapshot {
  session: SideSession;
  /** Commits (ok) or rolls back, and hands the connection back (or destroys it after a failure). */
  end(ok: boolean): Promise<void>;
}

export class LedgerSideDb {
  readonly side: LedgerSide;
  readonly target: string;
  readonly pool: pg.Pool;
  readonly limits: SideLimits;
  #metrics: Metrics;

  constructor(
    side: LedgerSide,
    connection: string,
    metrics: Metrics,
    log: Logger,
    limits: SideLimits = DEFAULT_LIMITS,
  ) {
    this.side = side;
    this.target = describeTarget(connection);
    this.#metrics = metrics;
    this.limits = limits;
    this.pool = new pg.Pool({
      connectionString: connection,
      max: 4,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      application_name: 'cloud-safety-ledger',
      allowExitOnIdle: true,
    });
    this.pool.on('error', (err: Error & { code?: string }) =>
      log.warn({ side, target: this.target, code: err.code }, 'idle ledger connection failed'),
    );
  }

  async connect(): Promise<SideSession> {
    try {
      const client = await this.#metrics.timed(`ledger-${this.side}`, 'connect', () => this.pool.connect());
      return new SideSession(this.side, this.target, client, this.#metrics, this.limits, () =>
        this.lockHolders(),
      );
    } catch (err) {
      throw sideError(this.side, this.target, err);
    }
  }

  /**
   * Who holds a lock a ledger query waits behind: granted table locks stronger than a writer's, on this
   * database, by other sessions (the oldest first), as one line: "pid 4242 holds AccessExclusiveLock on …".
   */
  async lockHolders(): Promise<string | undefined> {
    const { rows } = await this.pool.query<{
      pid: number;
      mode: string;
      relation: string;
      usename: string | null;
      application: string | null;
      client: string | null;
      state: string | null;
      since: string | null;
      query: string | null;
    }>(
      `SELECT a.pid, l.mode, l.relation::regclass::text AS relation, a.usename::text AS usename,
              a.application_name AS application, host(a.client_addr) AS client, a.state,
              to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS since,
              left(regexp_replace(a.query, '\\s+', ' ', 'g'), 120) AS query
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid()
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
        ORDER BY a.xact_start NULLS LAST, a.pid LIMIT 3`,
    );
    if (rows.length === 0) return undefined;
    return rows
      .map((r) => {
        const who = [
          r.usename ? `user ${r.usename}` : undefined,
          r.application ? `application "${r.application}"` : undefined,
          r.client ? `from ${r.client}` : undefined,
          r.since ? `in a transaction since ${r.since}` : undefined,
          r.state ? `now ${r.state}` : undefined,
          r.query ? `last query "${r.query}"` : undefined,
        ].filter((x) => x !== undefined);
        return `pid ${r.pid} holds ${r.mode} on ${r.relation} (${who.join(', ')})`;
      })
      .join('; ');
  }

  /** Opens a REPEATABLE READ READ ONLY transaction (one consistent snapshot) with TimeZone=UTC. */
  async openSnapshot(): Promise<Snapshot> {
    const session = await this.connect();
    try {
      // One round trip (a simple-protocol batch, no parameters): on a busy server each one costs milliseconds.
      await session.query(
        'begin',
        ['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', ...SNAPSHOT_SETTINGS, ...this.#timeouts()].join(
          '; ',
        ),
      );
    } catch (err) {
      session.release(true);
      throw err;
    }
    return {
      session,
      async end(ok: boolean) {
        try {
          await session.query(ok ? 'commit' : 'rollback', ok ? 'COMMIT' : 'ROLLBACK');
        } catch (err) {
          session.release(true);
          if (ok) throw err;
          return;
        }
        session.release(!ok);
      },
    };
  }

  async snapshot<T>(fn: (session: SideSession) => Promise<T>): Promise<T> {
    const snap = await this.openSnapshot();
    let ok = false;
    try {
      const value = await fn(snap.session);
      ok = true;
      return value;
    } finally {
      await snap.end(ok);
    }
  }

  /** Runs `fn` in a read-write transaction; a failure rolls everything back. */
  async transaction<T>(fn: (session: SideSession) => Promise<T>): Promise<T> {
    const session = await this.connect();
    let failed = true;
    try {
      await session.query('begin', 'BEGIN');
      for (const setting of this.#timeouts()) await session.query('begin', setting);
      await session.query('begin', "SET LOCAL TimeZone = 'UTC'");
      const value = await fn(session);
      await session.query('commit', 'COMMIT');
      failed = false;
      return value;
    } finally {
      if (failed) await session.query('rollback', 'ROLLBACK').catch(() => {});
      session.release(failed);
    }
  }

  /** Never wait behind a lock, or run a query, for longer than the config allows. */
  #timeouts(): string[] {
    return [
      `SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.limits.lockTimeoutMs))}`,
      `SET LOCAL statement_timeout = ${Math.max(1, Math.round(this.limits.statementTimeoutMs))}`,
    ];
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
