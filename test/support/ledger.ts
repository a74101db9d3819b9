// Ledger test helpers: a real PgLedger on seeded databases, a spy that proves no database was touched.
import { PgLedger } from '../../src/adapters/ledger/index.ts';
import { LedgerConfig } from '../../src/config.ts';
import type { Ledger, LedgerDifference } from '../../src/ledger.ts';
import { createMetrics } from '../../src/metrics.ts';
import type { SeededPair } from './ledger-seed.ts';
import { ledgerSection } from './ledger-seed.ts';
import { memoryLogger } from './bot.ts';
import type { PgServer } from './postgres.ts';

export function pgLedger(server: PgServer, pair: SeededPair, extra: Record<string, unknown> = {}): PgLedger {
  return pgLedgerAt(server.url(pair.legacy), server.url(pair.cloud), extra);
}

export function pgLedgerAt(legacy: string, cloud: string, extra: Record<string, unknown> = {}): PgLedger {
  const config = LedgerConfig.parse(ledgerSection(legacy, cloud, extra));
  return new PgLedger({
    service: 'payments',
    config,
    legacy,
    cloud,
    metrics: createMetrics({ defaults: false }),
    log: memoryLogger().log,
  });
}

/** A Ledger whose every method counts its calls and fails: for "bad input touches nothing" tests. */
export function spyLedger(): Ledger & { calls: string[] } {
  const calls: string[] = [];
  const fail = (name: string) => async () => {
    calls.push(name);
    throw new Error(`${name} must not be called`);
  };
  return {
    calls,
    service: 'payments',
    describe: () => 'spy ledger',
    audit: fail('audit'),
    cdcHealth: fail('cdcHealth'),
    writerState: fail('writerState'),
    lock: fail('lock'),
    unlock: fail('unlock'),
    planReconcile: fail('planReconcile'),
    reconcile: fail('reconcile'),
    countInLegacy: fail('countInLegacy'),
    close: async () => {},
  };
}

/** Runs an audit and keeps every difference. */
export async function auditAll(ledger: Ledger, since: Date, extra: { inFlightMs?: number } = {}) {
  const differences: LedgerDifference[] = [];
  const result = await ledger.audit({
    since,
    inFlightMs: extra.inFlightMs ?? 60_000,
    onDifference: (d) => {
      differences.push(d);
    },
  });
  return { result, differences };
}

export function hoursAgo(hours: number): Date {
  return new Date(Date.now() - hours * 3_600_000);
}
