// Startup choices from the environment: transport mode, secret values, ports, Redis reachability, config path, drill.
import { existsSync } from 'node:fs';
import { type Config } from './config.ts';
import { ConfigError } from './errors.ts';
import { describeRedis, type RedisConnection } from './config-redis.ts';
import { RedisStore } from './store/redis.ts';
import { loadScenario, ScenarioError, type Scenario } from './drill/scenario.ts';
import type { Store } from './store/store.ts';

export type Mode = 'socket' | 'http' | 'console';

/** Picks the transport from which tokens are set, or explains what is missing. */
export function chooseMode(env: NodeJS.ProcessEnv): Mode {
  const bot = env.SLACK_BOT_TOKEN;
  if (!bot) {
    if (env.SLACK_APP_TOKEN || env.SLACK_SIGNING_SECRET) {
      throw new ConfigError(
        'SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set without SLACK_BOT_TOKEN; set the bot token (xoxb-…) too, or unset both for console mode.',
      );
    }
    return 'console';
  }
  if (env.SLACK_APP_TOKEN) return 'socket';
  if (env.SLACK_SIGNING_SECRET) return 'http';
  throw new ConfigError(
    'SLACK_BOT_TOKEN is set, but neither SLACK_APP_TOKEN (Socket Mode) nor SLACK_SIGNING_SECRET (HTTP mode); set one of them.',
  );
}

/** Every secret value the environment holds, so the redactor hides it wherever it appears. */
export function secretValues(env: NodeJS.ProcessEnv): string[] {
  const names = Object.keys(env).filter((k) =>
    /(TOKEN|SECRET|PASSWORD|KEY|HMAC|DATABASE_URL|_DB_URL|REDIS_URL)$/i.test(k),
  );
  const values = names.map((k) => env[k]).filter((v): v is string => Boolean(v));
  // Only the password part of a URL is secret; the redactor hides URL passwords by pattern too.
  return values.filter((v) => !/^[a-z]+:\/\//i.test(v) || !/:[^@/]+@/.test(v));
}

/** The values of every environment variable the config names as a secret source. */
export function configSecretValues(config: Config, env: NodeJS.ProcessEnv): string[] {
  return Object.values(config.services).flatMap((service) =>
    Object.values(service.sandbox?.terraform.secretVars ?? {}).flatMap((ref) => {
      const value = env[ref.env];
      return value ? [value] : [];
    }),
  );
}

export function parsePort(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`${name}=${text} is not a port number (0-65535).`);
  return port;
}

/** Opens the store and checks Redis answers within a few seconds; otherwise one line says so (no stack trace). */
export async function reachableRedis(connection: string | RedisConnection, prefix: string): Promise<Store> {
  const target: RedisConnection =
    typeof connection === 'string' ? { kind: 'url', url: connection, waitReplicas: 0 } : connection;
  const store = new RedisStore(target, { prefix });
  let connectError: Error | undefined;
  const onError = (err: Error) => {
    connectError = err;
  };
  store.redis.on('error', onError);
  let last: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await store.ping();
      store.redis.off('error', onError);
      return store;
    } catch (err) {
      last = err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  store.redis.disconnect();
  const reason = connectError?.message ?? (last instanceof Error ? last.message : String(last));
  throw new ConfigError(
    `Redis at ${describeRedis(target)} is not reachable (${reason}). Start Redis or fix ${settingOf(target)}; the bot keeps its state there and did not start.`,
  );
}

function settingOf(target: RedisConnection): string {
  if (target.kind === 'sentinel') return 'REDIS_SENTINELS / REDIS_SENTINEL_NAME';
  return target.kind === 'cluster' ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL';
}

export function configPath(env: NodeJS.ProcessEnv, mode: Mode, out: NodeJS.WritableStream): string {
  if (env.CLOUD_SAFETY_CONFIG) return env.CLOUD_SAFETY_CONFIG;
  if (existsSync('cloud-safety.yml') || mode !== 'console') return 'cloud-safety.yml';
  out.write('No cloud-safety.yml here: using cloud-safety.example.yml for this console session.\n');
  return 'cloud-safety.example.yml';
}

/** CLOUD_SAFETY_DRILL_TIME_FACTOR: 1.0 runs a drill at real speed (a game day); the console default compresses it. */
export function drillTimeFactor(env: NodeJS.ProcessEnv): number {
  const text = env.CLOUD_SAFETY_DRILL_TIME_FACTOR;
  if (text === undefined || text === '') return 0.05;
  const factor = Number(text);
  if (!(factor > 0 && factor <= 1))
    throw new ConfigError(
      `CLOUD_SAFETY_DRILL_TIME_FACTOR=${text} is not a number in (0, 1], e.g. 0.05 or 1.0.`,
    );
  return factor;
}

/** CLOUD_SAFETY_DRILL_SCENARIO: the story the console's drill world plays (default seed). */
export function drillScenario(env: NodeJS.ProcessEnv): Scenario {
  const name = env.CLOUD_SAFETY_DRILL_SCENARIO || 'seed';
  try {
    return loadScenario(name);
  } catch (err) {
    if (err instanceof ScenarioError)
      throw new ConfigError(`CLOUD_SAFETY_DRILL_SCENARIO=${name}: ${err.message}`);
    throw err;
  }
}

/** Points every Prometheus the config names at the drill's simulated query API. */
export function pointAtDrill(
  config: Config,
  world: { prometheusUrl: string; cdc: { url: string; connector: string } },
): void {
  const { prometheusUrl } = world;
  for (const service of Object.values(config.services)) {
    if (service.breaker && 'prometheus' in service.breaker.source)
      service.breaker.source.prometheus = prometheusUrl;
    if (service.kubernetes?.prometheus) service.kubernetes.prometheus.url = prometheusUrl;
    // The machine's PostgreSQL cannot run logical replication between the drill's databases (wal_level): the
    // drill's CDC is Debezium on a simulated Kafka Connect, read through the production debezium check.
    if (service.ledger?.cdc)
      service.ledger.cdc = { kind: 'debezium', url: world.cdc.url, connector: world.cdc.connector };
  }
}

// The drill world, for /drill (flows/drill): steps reach the simulators only through the composition root.
export { NAMESPACE as DRILL_NAMESPACE } from './drill/kubernetes.ts';
export { DRILL_ZONE } from './drill/route53.ts';
export { DRILL_CLOUD_TG, DRILL_LEGACY_TG, DRILL_LISTENER } from './drill/elbv2.ts';
export {
  FAULTS,
  loadScenario,
  ScenarioError,
  scenarioNames,
  type FaultName,
  type Scenario,
} from './drill/scenario.ts';
export { startDrillWorld, type DrillWorld } from './drill/world.ts';
