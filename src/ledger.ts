// The ledger port (step O): what the audit, lock and reconcile flows need from the two databases, in our own types.
import { parseDuration } from './duration.ts';

export type LedgerSide = 'legacy' | 'cloud';

export const DIFFERENCE_CLASSES = [
  'missing_in_legacy',
  'missing_in_cloud',
  'mismatched',
  'partial',
  'invariant',
  'in_flight',
  'duplicate',
] as const;
export type DifferenceClass = (typeof DIFFERENCE_CLASSES)[number];

export type DifferenceCounts = Record<DifferenceClass, number>;

export function zeroCounts(): DifferenceCounts {
  return {
    missing_in_legacy: 0,
    missing_in_cloud: 0,
    mismatched: 0,
    partial: 0,
    invariant: 0,
    in_flight: 0,
    duplicate: 0,
  };
}

/** Row values as PostgreSQL prints them (text), null for SQL NULL. */
export type RowValues = Record<string, string | null>;

/** One difference found by an audit; `key` is the row key (or the double-entry group for `invariant`). */
export interface LedgerDifference {
  class: DifferenceClass;
  key: string;
  /** partial / invariant / duplicate: the side it was found on; in_flight: the side holding the newer row. */
  side?: LedgerSide;
  /** mismatched: the compared columns that differ; partial: the required columns that are NULL or empty. */
  columns: string[];
  legacy?: RowValues;
  cloud?: RowValues;
  /** One line for humans: "debits 10.00, credits 9.00 over 2 entries", "updated 12s ago on cloud". */
  detail?: string;
}

export interface AuditProgress {
  phase: 'scan' | 'drill' | 'invariant';
  /** 0..1 over the whole audit. */
  fraction: number;
  rowsScanned: number;
  elapsedMs: number;
  /** Milliseconds left at the current rate, when it can be told. */
  etaMs?: number;
}

export interface AuditOptions {
  since: Date;
  /** Rows newer than the database's now() minus this are in flight (CDC may not have carried them yet). */
  inFlightMs: number;
  onProgress?: (progress: AuditProgress) => void;
  /** Called for every difference as it is found (the CSV is written from here; memory stays bounded). */
  onDifference?: (difference: LedgerDifference) => void | Promise<void>;
}

export interface BulkDivergence {
  /** Rows in the window on each side, from the bucket counts. */
  legacyRows: number;
  cloudRows: number;
  differingBuckets: number;
  totalBuckets: number;
  /** The lower bound of differences the bucket counts prove, or the differences fetched before stopping. */
  atLeast: number;
}

export interface AuditResult {
  counts: DifferenceCounts;
  rows: { legacy: number; cloud: number };
  /** legacy + cloud rows hashed in the window. */
  rowsCompared: number;
  buckets: number;
  differingBuckets: number;
  durationMs: number;
  method: 'hash_record_extended' | 'md5';
  since: string;
  /** Set when the differences passed `maxDifferences`: the counts are incomplete. */
  bulkDivergence?: BulkDivergence;
  /**
   * Classes whose search did not run to the end (the audit stopped at bulk divergence): their counts are lower
   * bounds and a 0 among them proves nothing.
   */
  unchecked: DifferenceClass[];
  /** Notes worth showing (no unique index on the key, sampling used for buckets, tolerated type differences...). */
  notes: string[];
}

export interface CdcHealth {
  kind: 'pg-subscription' | 'pg-slot' | 'debezium';
  healthy: boolean;
  /** One line: what was checked and what it showed. */
  detail: string;
  lagSeconds?: number;
  lagBytes?: number;
}

/** A table privilege of the cloud writer role, as granted directly to it. */
export interface TablePrivilege {
  privilege: 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';
  grantable: boolean;
}

export interface WriterState {
  role: string;
  table: string;
  /** Write privileges granted directly to the role on the table. */
  granted: TablePrivilege[];
  /** Whether the role can write at all (directly, through a group, PUBLIC, ownership or column grants). */
  canWrite: boolean;
  /** Why the role can still write when nothing direct is left (owner, superuser, inherited...). */
  reasons: string[];
  sessions: number;
}

export interface LockResult {
  revoked: TablePrivilege[];
  terminated: number;
  /** Sessions that connected between the revoke and its commit, ended after the commit. */
  terminatedAfterCommit: number;
  /** Set when the transaction failed or lost its answer and the lock was seen in place by reading the grants back. */
  observed?: string;
}

export interface ReconcilePlan {
  keys: string[];
  columns: string[];
  /** The first statements, as they would run (values shown literally). */
  preview: string[];
  /** The statement actually executed, with its parameter placeholders. */
  statement: string;
  warnings: string[];
}

export interface ReconcileResult {
  inserted: number;
  alreadyPresent: number;
  goneFromCloud: number;
}

export interface Ledger {
  readonly service: string;
  /** "public.ledger_entries on legacy db.example:5432/ledger and cloud …", never with a password. */
  describe(): string;
  audit(opts: AuditOptions): Promise<AuditResult>;
  cdcHealth(): Promise<CdcHealth | undefined>;
  writerState(): Promise<WriterState>;
  /** Revokes `expected` (which must match what is granted now) and ends the role's sessions, in one transaction. */
  lock(expected: TablePrivilege[]): Promise<LockResult>;
  /** Grants back exactly `revoked`. */
  unlock(revoked: TablePrivilege[]): Promise<void>;
  planReconcile(keys: string[]): Promise<ReconcilePlan>;
  /** Copies the rows of `keys` from cloud into legacy in one transaction; never overwrites, never deletes. */
  reconcile(keys: string[]): Promise<ReconcileResult>;
  /** How many of `keys` exist in legacy (for rechecks after a restart). */
  countInLegacy(keys: string[]): Promise<number>;
  close(): Promise<void>;
}

/** Every configured service's ledger. */
export interface LedgerAdapters {
  /** The service's ledger; throws ConfigError when a connection string it names is not set. */
  get(service: string): Ledger | undefined;
  /** Resolves every configured connection now (Slack modes call it at start, to fail fast). */
  check(): void;
  close(): Promise<void>;
}

/** The longest window /ledger audits or reconciles, however since= is written. */
const MAX_SINCE_MS = 90 * 86_400_000;

const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Reads `since=`: an ISO time ("2026-05-20T09:30Z"; without a zone it is UTC) or a duration back from now
 * ("30m", "2h"). Returns an error text that says how to write it, or the time.
 */
export function parseSince(text: string, now: Date): { since: Date } | { error: string } {
  const trimmed = text.trim();
  const how = 'write since= as a duration back from now (30m, 2h, 1h30m) or an ISO time (2026-05-20T09:30Z)';
  if (trimmed === '') return { error: `since= is empty; ${how}.` };
  const ms = parseDuration(trimmed);
  if (ms !== undefined) {
    if (ms <= 0) return { error: `since=${trimmed} is zero; ${how}.` };
    if (ms > MAX_SINCE_MS) return { error: `since=${trimmed} is over 90 days; audit a shorter window.` };
    return { since: new Date(now.getTime() - ms) };
  }
  if (!ISO.test(trimmed)) return { error: `since=${trimmed} is neither a duration nor an ISO time; ${how}.` };
  const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(trimmed) || trimmed.length === 10 ? trimmed : `${trimmed}Z`;
  const at = new Date(trimmed.length === 10 ? `${trimmed}T00:00:00Z` : zoned.replace(' ', 'T'));
  if (Number.isNaN(at.getTime())) return { error: `since=${trimmed} is not a real time; ${how}.` };
  if (at.getTime() > now.getTime()) return { error: `since=${trimmed} is in the future; ${how}.` };
  // The same cap as a duration: an old ISO time would otherwise scan years of ledger rows.
  if (now.getTime() - at.getTime() > MAX_SINCE_MS)
    return { error: `since=${trimmed} is over 90 days ago; audit a shorter window.` };
  return { since: at };
}

/** What each class means, for the summary and the docs. */
export const CLASS_MEANING: Record<DifferenceClass, string> = {
  missing_in_legacy: 'written by the cloud side, never reached legacy (replay with `/ledger reconcile`)',
  missing_in_cloud: 'in legacy only',
  mismatched: 'same key, different values',
  partial: 'a required column is NULL or empty (half-written payload)',
  invariant: 'double-entry group whose debits and credits do not balance',
  in_flight: 'newer than the CDC lag allows; may still be on its way, audit again in a minute',
  duplicate:
    'the key is not unique on that side: its rows were not compared, a human must pick the right one',
};
