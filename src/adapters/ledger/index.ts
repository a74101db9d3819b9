// The PostgreSQL ledger adapter: one pool per side per service, behind the Ledger port.
import { resolveConnection, resolveSecret, type Config, type LedgerConfig } from '../../config.ts';
import { ConfigError } from '../../errors.ts';
import type {
  AuditOptions,
  AuditResult,
  CdcHealth,
  Ledger,
  LedgerAdapters,
  LockResult,
  ReconcilePlan,
  ReconcileResult,
  TablePrivilege,
  WriterState,
} from '../../ledger.ts';
import type { Logger } from '../../log.ts';
import type { Metrics } from '../../metrics.ts';
import { runAudit } from './audit.ts';
import { checkCdc } from './cdc.ts';
import { lockWriters, unlockWriters, writerState } from './privileges.ts';
import { countInLegacy, planReconcile, reconcile } from './reconcile.ts';
import { LedgerSideDb } from './side.ts';
import { displayTable, parseTableName, type TableName } from './sql.ts';

export interface PgLedgerOptions {
  service: string;
  config: LedgerConfig;
  legacy: string;
  cloud: string;
  metrics: Metrics;
  log: Logger;
  debeziumAuth?: string;
  fetch?: typeof fetch;
}

export class PgLedger implements Ledger {
  readonly service: string;
  readonly config: LedgerConfig;
  readonly legacy: LedgerSideDb;
  readonly cloud: LedgerSideDb;
  #table: TableName;
  #opts: PgLedgerOptions;

  constructor(opts: PgLedgerOptions) {
    this.service = opts.service;
    this.config = opts.config;
    this.#opts = opts;
    this.#table = parseTableName(opts.config.table);
    const limits = {
      lockTimeoutMs: opts.config.lockTimeout,
      statementTimeoutMs: opts.config.statementTimeout,
    };
    this.legacy = new LedgerSideDb('legacy', opts.legacy, opts.metrics, opts.log, limits);
    this.cloud = new LedgerSideDb('cloud', opts.cloud, opts.metrics, opts.log, limits);
  }

  describe(): string {
    return `${displayTable(this.#table)} on legacy ${this.legacy.target} and cloud ${this.cloud.target}`;
  }

  audit(opts: AuditOptions): Promise<AuditResult> {
    return runAudit({
      legacy: this.legacy,
      cloud: this.cloud,
      config: this.config,
      table: this.#table,
      opts,
    });
  }

  async cdcHealth(): Promise<CdcHealth | undefined> {
    if (!this.config.cdc) return undefined;
    return checkCdc(this.config.cdc, {
      sides: { legacy: this.legacy, cloud: this.cloud },
      metrics: this.#opts.metrics,
      ...(this.#opts.debeziumAuth ? { debeziumAuth: this.#opts.debeziumAuth } : {}),
      ...(this.#opts.fetch ? { fetch: this.#opts.fetch } : {}),
    });
  }

  #role(): string {
    const role = this.config.lock?.role;
    if (!role)
      throw new ConfigError(
        `services.${this.service}.ledger.lock.role is not set; name the cloud writer role.`,
      );
    return role;
  }

  writerState(): Promise<WriterState> {
    return writerState(this.cloud, this.#role(), this.#table);
  }

  lock(expected: TablePrivilege[]): Promise<LockResult> {
    return lockWriters(this.cloud, this.#role(), this.#table, expected);
  }

  unlock(revoked: TablePrivilege[]): Promise<void> {
    return unlockWriters(this.cloud, this.#role(), this.#table, revoked);
  }

  planReconcile(keys: string[]): Promise<ReconcilePlan> {
    return planReconcile(this.legacy, this.cloud, this.config, this.#table, keys);
  }

  reconcile(keys: string[]): Promise<ReconcileResult> {
    return reconcile(this.legacy, this.cloud, this.config, this.#table, keys);
  }

  countInLegacy(keys: string[]): Promise<number> {
    return countInLegacy(this.legacy, this.config, this.#table, keys);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.legacy.close(), this.cloud.close()]);
  }
}

/** Ledgers of every service whose config has a ledger section; undefined when none has. */
export function buildLedgerAdapters(
  config: Config,
  env: NodeJS.ProcessEnv,
  metrics: Metrics,
  log: Logger,
): LedgerAdapters | undefined {
  // Built on first use: a console drill starts without the database URLs and says which one is missing
  // when /ledger needs it; Slack modes call check() at start so production fails fast instead.
  const factories = new Map<string, () => PgLedger>();
  for (const [service, section] of Object.entries(config.services)) {
    const ledger = section.ledger;
    if (!ledger) continue;
    const path = `services.${service}.ledger`;
    const auth = ledger.cdc?.kind === 'debezium' && ledger.cdc.auth;
    factories.set(
      service,
      () =>
        new PgLedger({
          service,
          config: ledger,
          legacy: resolveConnection(ledger.legacy, `${path}.legacy`, env),
          cloud: resolveConnection(ledger.cloud, `${path}.cloud`, env),
          metrics,
          log,
          ...(auth ? { debeziumAuth: resolveSecret(auth, `${path}.cdc.auth`, env) } : {}),
        }),
    );
  }
  if (factories.size === 0) return undefined;
  const built = new Map<string, PgLedger>();
  const get = (service: string): PgLedger | undefined => {
    const factory = factories.get(service);
    if (!factory) return undefined;
    let ledger = built.get(service);
    if (!ledger) {
      ledger = factory();
      built.set(service, ledger);
    }
    return ledger;
  };
  return {
    get,
    check() {
      for (const service of factories.keys()) get(service);
    },
    async close() {
      await Promise.allSettled([...built.values()].map((l) => l.close()));
    },
  };
}

export function ledgerAdapters(ledgers: Map<string, Ledger>): LedgerAdapters {
  return {
    get: (service) => ledgers.get(service),
    check() {},
    async close() {
      await Promise.allSettled([...ledgers.values()].map((l) => l.close()));
    },
  };
}
