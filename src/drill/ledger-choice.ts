// Where the drill's two ledger databases live: the machine's PostgreSQL when the drill can create databases there,
// else two embedded PostgreSQL servers (PGlite over the wire protocol), else a message saying exactly what is missing.
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { LedgerAdapters } from '../ledger.ts';
import { startLedger } from './ledger.ts';
import type { EmbeddedLedger } from './ledger-embedded.ts';
import type { Scenario } from './scenario.ts';

export type ChosenLedger =
  | { legacy: string; cloud: string; describe: string; stop: () => Promise<void> }
  | { legacy: string; cloud: string; describe: string; missing: string };

/** Starts the embedded pair; loaded on demand so a drill on a real PostgreSQL never loads the WASM build. */
export type EmbeddedStarter = (scenario: Scenario) => Promise<EmbeddedLedger>;

export const startEmbedded: EmbeddedStarter = async (scenario) =>
  (await import('./ledger-embedded.ts')).startEmbeddedLedger(scenario);

function hostPort(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}`;
}

export async function chooseLedger(
  adminUrl: string,
  scenario: Scenario,
  embedded: EmbeddedStarter = startEmbedded,
): Promise<ChosenLedger> {
  const real = await startLedger(adminUrl, scenario);
  if (!('missing' in real)) {
    const name = (url: string) => new URL(url).pathname.slice(1);
    return {
      ...real,
      describe: `PostgreSQL ledgers ${name(real.legacy)} and ${name(real.cloud)} on ${hostPort(adminUrl)} (diverged)`,
    };
  }
  try {
    const pair = await embedded(scenario);
    return {
      ...pair,
      describe:
        `embedded PostgreSQL ledgers (PGlite) legacy ${hostPort(pair.legacy)} and cloud ${hostPort(pair.cloud)} (diverged), ` +
        `because there is ${real.why}`,
    };
  } catch (err) {
    const reason = ((err as Error).message || String(err)).split('\n')[0] ?? '';
    const missing =
      `${real.why}, and the embedded PostgreSQL (@electric-sql/pglite) did not start (${reason}); ` +
      'start a PostgreSQL there (or point CLOUD_SAFETY_DRILL_POSTGRES_URL at one the drill may create databases on), ' +
      'run npm install so @electric-sql/pglite and @electric-sql/pglite-socket are present, or set PAYMENTS_LEGACY_DB_URL and PAYMENTS_CLOUD_DB_URL';
    return { legacy: real.legacy, cloud: real.cloud, missing, describe: `ledger: ${missing}` };
  }
}

/**
 * The console drill's ledgers when neither a PostgreSQL nor the embedded one could be had: /ledger answers for every
 * service with a ledger section with what is missing and how to get it, and touches nothing.
 */
export function missingLedgers(config: Config, missing: string): LedgerAdapters {
  return {
    get(service) {
      if (!config.services[service]?.ledger) return undefined;
      throw new ConfigError(`the drill has no ledger databases for ${service}: ${missing}.`);
    },
    check() {},
    async close() {},
  };
}
