// Locking the cloud writers out of the ledger table (revoke + end sessions, one transaction) and letting them back in.
import { ExternalServiceError } from '../../errors.ts';
import type { LockResult, TablePrivilege, WriterState } from '../../ledger.ts';
import { NotWrittenError, observeAfterFailure } from '../../outcome.ts';
import type { LedgerSideDb, SideSession } from './side.ts';
import { ident, qualified, type TableName, displayTable } from './sql.ts';

const WRITES = ['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] as const;

export function samePrivileges(a: TablePrivilege[], b: TablePrivilege[]): boolean {
  const key = (list: TablePrivilege[]) =>
    list
      .map((p) => `${p.privilege}:${p.grantable}`)
      .sort()
      .join(',');
  return key(a) === key(b);
}

export function describePrivileges(list: TablePrivilege[]): string {
  if (list.length === 0) return 'none';
  return list.map((p) => `${p.privilege}${p.grantable ? ' (with grant option)' : ''}`).join(', ');
}

async function readState(session: SideSession, role: string, table: TableName): Promise<WriterState> {
  const [row] = await session.query<{
    role_oid: number | null;
    table_oid: number | null;
    superuser: boolean;
    owner: boolean;
    writes: boolean;
    column_writes: boolean;
    sessions: string;
  }>(
    'writers',
    `SELECT r.oid::int AS role_oid, c.oid::int AS table_oid, r.rolsuper AS superuser,
            c.relowner = r.oid OR pg_has_role(r.oid, c.relowner, 'USAGE') AS owner,
            has_table_privilege(r.oid, c.oid, 'INSERT') OR has_table_privilege(r.oid, c.oid, 'UPDATE')
              OR has_table_privilege(r.oid, c.oid, 'DELETE') OR has_table_privilege(r.oid, c.oid, 'TRUNCATE') AS writes,
            has_any_column_privilege(r.oid, c.oid, 'INSERT') OR has_any_column_privilege(r.oid, c.oid, 'UPDATE') AS column_writes,
            (SELECT count(*) FROM pg_stat_activity a
              WHERE a.usesysid = r.oid AND a.datname = current_database() AND a.pid <> pg_backend_pid())::text AS sessions
       FROM (SELECT to_regclass($2) AS oid) t
       LEFT JOIN pg_class c ON c.oid = t.oid
       LEFT JOIN pg_roles r ON r.rolname = $1`,
    [role, qualified(table)],
  );
  if (!row?.table_oid) {
    throw new ExternalServiceError(
      'cloud database',
      `${session.target}: table ${displayTable(table)} does not exist; check ledger.table.`,
    );
  }
  if (row.role_oid === null) {
    throw new ExternalServiceError(
      'cloud database',
      `${session.target}: role "${role}" does not exist; check ledger.lock.role.`,
    );
  }
  const granted = await session.query<{ privilege: TablePrivilege['privilege']; grantable: boolean }>(
    'writers',
    `SELECT a.privilege_type AS privilege, bool_or(a.is_grantable) AS grantable
       FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
      WHERE c.oid = $1 AND a.grantee = $2 AND a.privilege_type = ANY($3::text[])
      GROUP BY a.privilege_type ORDER BY a.privilege_type`,
    [row.table_oid, row.role_oid, WRITES],
  );
  const reasons: string[] = [];
  if (row.superuser) reasons.push(`${role} is a superuser`);
  if (row.owner) reasons.push(`${role} owns ${displayTable(table)} (or is a member of its owner)`);
  if (row.writes && granted.length === 0 && !row.owner && !row.superuser)
    reasons.push(`${role} inherits write privileges from a group role or PUBLIC`);
  if (row.column_writes && !row.writes) reasons.push(`${role} holds column-level INSERT or UPDATE grants`);
  return {
    role,
    table: displayTable(table),
    granted: granted.map((g) => ({ privilege: g.privilege, grantable: g.grantable })),
    canWrite: row.writes || row.column_writes,
    reasons,
    sessions: Number(row.sessions),
  };
}

export async function writerState(db: LedgerSideDb, role: string, table: TableName): Promise<WriterState> {
  return db.snapshot((session) => readState(session, role, table));
}

async function terminate(session: SideSession, role: string): Promise<number> {
  const [row] = await session.query<{ ended: string }>(
    'terminate',
    `SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid))::text AS ended
       FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
      WHERE r.rolname = $1 AND a.datname = current_database() AND a.pid <> pg_backend_pid()`,
    [role],
  );
  return Number(row?.ended ?? 0);
}

/**
 * Revokes exactly `expected` from the role and ends its sessions, in one transaction. Refuses (and changes
 * nothing) when the grants moved since the request, or when the role could still write afterwards.
 */
export async function lockWriters(
  db: LedgerSideDb,
  role: string,
  table: TableName,
  expected: TablePrivilege[],
): Promise<LockResult> {
  let result: { revoked: TablePrivilege[]; terminated: number };
  try {
    result = await revokeInTransaction(db, role, table, expected);
  } catch (err) {
    // Our own refusals (grants moved, still writable) come without a cause and were rolled back; anything the
    // driver or server raised may have hit the COMMIT: read the grants before saying what happened.
    if (!(err instanceof ExternalServiceError) || err.cause === undefined) throw err;
    const why = (err.cause as Error).message?.split('\n')[0] ?? err.message;
    const seen = await observeAfterFailure({
      service: 'cloud database',
      failure: `the lock transaction failed (${why})`,
      read: () => writerState(db, role, table),
      verdict: (s) =>
        !s.canWrite && expected.every((p) => !s.granted.some((g) => g.privilege === p.privilege))
          ? 'applied'
          : samePrivileges(s.granted, expected)
            ? 'untouched'
            : 'moved',
      reads: 1,
      sleep: async () => {},
    });
    const now = describePrivileges(seen.current.granted);
    if (seen.verdict === 'untouched') {
      throw new NotWrittenError(
        'cloud database',
        `the lock transaction failed (${why}); the grants read back still show ${now} for ${role}, so nothing was changed. Run /ledger lock again once the database is reachable.`,
        err,
      );
    }
    if (seen.verdict === 'moved') {
      throw new ExternalServiceError(
        'cloud database',
        `the lock transaction failed (${why}); the grants read back show ${now} for ${role}${seen.current.canWrite ? ', and it can still write' : ''}: neither the approved state nor the lock. Check by hand before doing anything else.`,
        { cause: err },
      );
    }
    const late = await db.transaction((session) => terminate(session, role)).catch(() => 0);
    return {
      revoked: expected,
      terminated: 0,
      terminatedAfterCommit: late,
      observed: `the lock transaction failed (${why}), but the grants read back show ${role} can no longer write: the lock is in place (sessions it ended were not counted)`,
    };
  }
  // A session that connected between the revoke and its commit saw the old grants: end it too.
  const late = await db.transaction((session) => terminate(session, role));
  return { ...result, terminatedAfterCommit: late };
}

/** The revoke, its check and the end of the role's sessions, in one transaction. */
function revokeInTransaction(
  db: LedgerSideDb,
  role: string,
  table: TableName,
  expected: TablePrivilege[],
): Promise<{ revoked: TablePrivilege[]; terminated: number }> {
  return db.transaction(async (session) => {
    const before = await readState(session, role, table);
    if (!samePrivileges(before.granted, expected)) {
      throw new ExternalServiceError(
        'cloud database',
        `the grants of ${role} on ${before.table} changed since the request (now ${describePrivileges(before.granted)}, approved ${describePrivileges(expected)}). Nothing was changed; run /ledger lock again.`,
      );
    }
    if (expected.length > 0) {
      await session.query(
        'revoke',
        `REVOKE ${expected.map((p) => p.privilege).join(', ')} ON TABLE ${qualified(table)} FROM ${ident(role)}`,
      );
    }
    const after = await readState(session, role, table);
    if (after.canWrite) {
      throw new ExternalServiceError(
        'cloud database',
        `${role} could still write to ${after.table} after the revoke (${after.reasons.join('; ') || 'through another grant'}). Nothing was changed; remove that path by hand, then lock again.`,
      );
    }
    const terminated = await terminate(session, role);
    return { revoked: expected, terminated };
  });
}

/** Grants back exactly what a lock revoked. */
export async function unlockWriters(
  db: LedgerSideDb,
  role: string,
  table: TableName,
  revoked: TablePrivilege[],
): Promise<void> {
  await db.transaction(async (session) => {
    await readState(session, role, table);
    const plain = revoked.filter((p) => !p.grantable).map((p) => p.privilege);
    const grantable = revoked.filter((p) => p.grantable).map((p) => p.privilege);
    if (plain.length > 0)
      await session.query(
        'grant',
        `GRANT ${plain.join(', ')} ON TABLE ${qualified(table)} TO ${ident(role)}`,
      );
    if (grantable.length > 0)
      await session.query(
        'grant',
        `GRANT ${grantable.join(', ')} ON TABLE ${qualified(table)} TO ${ident(role)} WITH GRANT OPTION`,
      );
  });
}
