// PostgreSQL for tests: TEST_DATABASE_URL, the local server, or a throwaway one from initdb; unique databases on it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './redis.ts';

export interface PgServer {
  /** Where it came from: the environment, the machine's server, or one we started. */
  kind: 'env' | 'local' | 'throwaway';
  host: string;
  port: number;
  user: string;
  password?: string;
  /** Connection URL for a database on this server (as the admin user unless `user` is given). */
  url(database: string, user?: string, password?: string): string;
  walLevel: string;
  stop(): Promise<void>;
}

function makeUrl(host: string, port: number, user: string, password: string | undefined, db: string): string {
  const auth =
    password === undefined
      ? encodeURIComponent(user)
      : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  return `postgres://${auth}@${host}:${port}/${encodeURIComponent(db)}`;
}

export async function adminQuery<T extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

async function probe(url: string): Promise<string | undefined> {
  try {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    await client.connect();
    const { rows } = await client.query<{ wal_level: string }>('SHOW wal_level');
    await client.end();
    return rows[0]?.wal_level;
  } catch {
    return undefined;
  }
}

function fromUrl(kind: PgServer['kind'], raw: string, walLevel: string): PgServer {
  const u = new URL(raw);
  const host = u.hostname;
  const port = Number(u.port || 5432);
  const user = decodeURIComponent(u.username || 'postgres');
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  return {
    kind,
    host,
    port,
    user,
    ...(password !== undefined ? { password } : {}),
    walLevel,
    url: (db, asUser, asPassword) => makeUrl(host, port, asUser ?? user, asUser ? asPassword : password, db),
    async stop() {},
  };
}

function binDir(): string {
  const found = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  return '/usr/lib/postgresql/15/bin';
}

/** initdb refuses to run as root: when we are root, PostgreSQL's binaries run as the postgres user. */
function runAs(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error('running as root and there is no postgres user');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * Starts a throwaway server on a free port (wal_level=logical by default, so logical replication works),
 * with scram password auth over TCP when `password` is given. Data lives in a temp dir removed on stop.
 */
export async function startPostgres(opts: { password?: string } = {}): Promise<PgServer> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'cs-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const initArgs = ['-D', data, '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'];
  if (opts.password !== undefined) {
    const pwfile = join(dir, 'pw');
    writeFileSync(pwfile, opts.password);
    chmodSync(pwfile, 0o644);
    initArgs.push('--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`);
  } else {
    initArgs.push('--auth=trust');
  }
  const user = runAs();
  const done = spawnSync(join(bin, 'initdb'), initArgs, { encoding: 'utf8', ...user });
  if (done.status !== 0) throw new Error(`initdb failed: ${done.stderr || done.error?.message}`);
  const port = await freePort();
  const args = [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'wal_level=logical',
    '-c',
    'fsync=off',
    '-c',
    'synchronous_commit=off',
    '-c',
    'full_page_writes=off',
    '-c',
    'max_connections=60',
    '-c',
    'max_replication_slots=10',
    '-c',
    'max_wal_senders=10',
  ];
  const child: ChildProcess = spawn(join(bin, 'postgres'), args, { stdio: 'ignore', ...user });
  const server = fromUrl(
    'throwaway',
    makeUrl('127.0.0.1', port, 'postgres', opts.password, 'postgres'),
    'logical',
  );
  const deadline = Date.now() + 20_000;
  while ((await probe(server.url('postgres'))) === undefined) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('throwaway postgres did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  server.stop = async () => {
    if (child.exitCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        // SIGINT is PostgreSQL's fast shutdown: sessions are ended, nothing waits for clients.
        child.kill('SIGINT');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return server;
}

let shared: Promise<PgServer> | undefined;

/** The run's server: TEST_DATABASE_URL, else the machine's server on 127.0.0.1:5432, else a throwaway one. */
export function testPostgres(): Promise<PgServer> {
  shared ??= (async () => {
    const env = process.env.TEST_DATABASE_URL;
    if (env) {
      const wal = await probe(env);
      if (wal === undefined) throw new Error('TEST_DATABASE_URL is set but does not answer');
      return fromUrl('env', env, wal);
    }
    const local = 'postgres://postgres@127.0.0.1:5432/postgres';
    const wal = await probe(local);
    if (wal !== undefined) return fromUrl('local', local, wal);
    return startPostgres();
  })();
  return shared;
}

export async function stopSharedPostgres(): Promise<void> {
  if (!shared) return;
  const server = await shared.catch(() => undefined);
  shared = undefined;
  await server?.stop();
}

/** A database of its own for a test; `template` clones a seeded one in a moment. */
export async function createDatabase(server: PgServer, opts: { template?: string; prefix?: string } = {}) {
  const name = `${opts.prefix ?? 'cs_test'}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  await adminQuery(
    server.url('postgres'),
    `CREATE DATABASE ${pg.escapeIdentifier(name)}${opts.template ? ` TEMPLATE ${pg.escapeIdentifier(opts.template)}` : ''}`,
  );
  return name;
}

export async function dropDatabase(server: PgServer, name: string): Promise<void> {
  await adminQuery(
    server.url('postgres'),
    `DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`,
  );
}

/** A login role for a test; dropped with `dropRole`. */
export async function createRole(server: PgServer, password?: string): Promise<string> {
  const name = `cs_role_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  await adminQuery(
    server.url('postgres'),
    `CREATE ROLE ${pg.escapeIdentifier(name)} LOGIN${password ? ` PASSWORD ${pg.escapeLiteral(password)}` : ''}`,
  );
  return name;
}

export async function dropRole(server: PgServer, name: string, databases: string[]): Promise<void> {
  for (const db of databases) {
    await adminQuery(server.url(db), `DROP OWNED BY ${pg.escapeIdentifier(name)}`).catch(() => {});
  }
  await adminQuery(server.url('postgres'), `DROP ROLE IF EXISTS ${pg.escapeIdentifier(name)}`);
}
