// The local Route 53's public shapes: server options and handle, operations, and the faults it can inject.
import type { Server } from 'node:http';
import type { DrillBind } from './bind.ts';
import type { RecordSet } from './route53-xml.ts';

/** How long real Route 53 usually takes to report a change INSYNC: about 60 s. Tests use it on an injected clock. */
export const REAL_SYNC_DELAY_MS = 60_000;
/** Route 53's API quota: five requests per second per account, every operation counted (DNSLimitations). */
export const REAL_RATE_PER_SECOND = 5;

export interface Route53ServerOptions {
  /** Where it listens and the name others reach it by (default 127.0.0.1). */
  bind?: DrillBind;
  /** Records per hosted zone id (without /hostedzone/). */
  zones: Record<string, RecordSet[]>;
  /** How long a change stays PENDING before GetChange says INSYNC (default 2 s; the real service ~60 s). */
  syncDelayMs?: number;
  /**
   * Requests per second the account may make, every operation counted, as a token bucket of `burst` tokens (default
   * the rate); beyond it Route 53 answers HTTP 400 Throttling "Rate exceeded". Off unless given (real: 5).
   */
  rateLimit?: { perSecond: number; burst?: number };
  /**
   * For this long after a change to a zone is accepted, another change to the same zone is refused with
   * PriorRequestNotComplete (HTTP 400), as Route 53 does while it is still processing the previous one. Default 0.
   */
  priorRequestMs?: number;
  /** ListResourceRecordSets page size when the request gives no maxitems (default 300, like Route 53). */
  pageSize?: number;
  /** Health checks: how many of 8 checkers report the endpoint healthy. */
  healthChecks?: Record<string, number>;
  port?: number;
  now?: () => number;
}

export interface Route53Server {
  url: string;
  port: number;
  server: Server;
  /** Every request as received: method, path and body. */
  requests: { method: string; path: string; body: string }[];
  /** ChangeBatches accepted, in order, with their ids (those whose answer a fault replaced included). */
  accepted: { id: string; at: number; changes: number; comment?: string }[];
  /** Requests refused by the rate limit or PriorRequestNotComplete, by code. */
  refused: Record<string, number>;
  records(zone: string): RecordSet[];
  setRecords(zone: string, records: RecordSet[]): void;
  setHealth(healthCheckId: string, healthyCheckers: number): void;
  /** The next `n` ChangeResourceRecordSets calls answer Throttling (for drills). */
  throttleNext(n: number): void;
  /**
   * The next `n` calls of one operation answer this error instead (fault tests: throttling storms on reads,
   * PriorRequestNotComplete on writes, 5xx). Queued faults of an operation are used in the order given.
   */
  failNext(operation: Route53Operation, n: number, error: Route53Fault): void;
  stop(): Promise<void>;
}

export type Route53Operation =
  'ListResourceRecordSets' | 'ChangeResourceRecordSets' | 'GetChange' | 'GetHealthCheckStatus';

export interface Route53Fault {
  code: string;
  message: string;
  /** HTTP status (400 for Throttling and PriorRequestNotComplete, as Route 53 answers them). */
  status?: number;
  /**
   * The request is carried out first (a ChangeBatch commits, a read reads) and only then the answer goes wrong:
   * `answer` sends this fault's error instead of the real answer, `drop` closes the connection without a word.
   */
  afterCommit?: 'answer' | 'drop';
  /** Called once the fault has been served, e.g. to make Route 53 fail reads from that moment on. */
  then?: () => void;
}

/** A ChangeBatch that commits and then answers HTTP 500 InternalFailure: the answer lies about what happened. */
export const FAIL_AFTER_COMMIT: Route53Fault = {
  code: 'InternalFailure',
  message: 'An internal error occurred.',
  status: 500,
  afterCommit: 'answer',
};
/** A ChangeBatch that commits and then loses its answer (connection reset). */
export const DROP_AFTER_COMMIT: Route53Fault = { ...FAIL_AFTER_COMMIT, afterCommit: 'drop' };
