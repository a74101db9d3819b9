// Composition root: reads the environment and config, builds every concrete class, picks the transport.
import { armCrashPoints } from './crash.ts';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { registerSteps, stepParts } from '../commands/index.ts';
import { Approvals } from '../flows/approval/approval.ts';
import { breakerEvaluatorOf, type BreakerOptions } from '../flows/breaker/evaluator.ts';
import { Incidents } from '../flows/incident/incident.ts';
import { PagerDutyMirror, type MirrorOptions } from '../flows/pagerduty/mirror.ts';
import { Access } from './access.ts';
import { Bot } from './bot.ts';
import type { Chat } from './chat/chat.ts';
import { ConsoleChat } from './chat/console/chat.ts';
import { ConsoleSession } from './chat/console/repl.ts';
import { redactingChat } from './chat/redacting.ts';
import { SlackChat, slackWebClient } from './chat/slack/chat.ts';
import { startSlack } from './chat/slack/app.ts';
import { loadConfig, type Config } from './config.ts';
import { redisConnectionFromEnv } from './config-redis.ts';
import type { Adapters, Deps } from './deps.ts';
import { ConfigError } from './errors.ts';
import { healthRoutes, startHealthServer } from './http.ts';
import { createLogger, type Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createRedactor, type Redactor } from './redact.ts';
import { deriveKeys, type Keys } from './keys.ts';
import { Scheduler } from './scheduler.ts';
import { MemoryStore } from './store/memory.ts';
import type { Store } from './store/store.ts';
import { Tasks, Throttle } from './tasks.ts';
import { TimelineLog } from './timeline-log.ts';
import { integrationRoutes, registerIntegrations } from '../flows/integrations/index.ts';
import { checkPolicies } from '../flows/approval/policy-check.ts';
import { hasCloudCredentials, startDrillWorld, type DrillWorld } from './drill/world.ts';
import { missingLedgers } from './drill/ledger-choice.ts';
import { buildAdapters } from './adapters-build.ts';
import { Drills, type DrillsOptions } from '../flows/drill/routing.ts';
import { drillBindFromEnv } from './drill/bind.ts';
import {
  chooseMode,
  configPath,
  configSecretValues,
  drillScenario,
  drillTimeFactor,
  parsePort,
  pointAtDrill,
  reachableRedis,
  secretValues,
} from './startup.ts';

export { buildAdapters } from './adapters-build.ts';
export { chooseMode, configSecretValues, secretValues, type Mode } from './startup.ts';

export interface BuildOptions {
  config: Config;
  store: Store;
  chat: Chat;
  log: Logger;
  redactor: Redactor;
  env?: NodeJS.ProcessEnv;
  metrics?: Metrics;
  now?: () => Date;
  instanceId?: string;
  /** The out-of-Redis secret (default: derived from `env`). */
  keys?: Keys;
  /** Minimum time between edits of one message (Slack allows about 1/s). */
  editIntervalMs?: number;
  schedulerTickMs?: number;
  /** Replaces adapters built from the config (tests point them at local endpoints). */
  adapters?: Partial<Adapters>;
  /** Tuning of the PagerDuty mirror (tests shorten its batch window and backoff). */
  pagerdutyMirror?: Partial<MirrorOptions>;
  /** Tuning of the breaker evaluator (tests shorten its lease; the benchmark its tick). */
  breaker?: Partial<BreakerOptions>;
  /** Execution lease of approved actions (tests shorten it; default 15 s renewed every 5 s). */
  actionLease?: { ttlMs: number; renewMs?: number };
  /** The console's drill world is running: every message says DRILL. */
  drillWorld?: boolean;
  /** Drills' embedded-ledger fallback, heartbeat and exec start (tests turn the one off and shorten the others). */
  drills?: Pick<DrillsOptions, 'embeddedLedger' | 'heartbeat' | 'execStartMs'>;
}

/** Wires every part of the bot; transports are attached by the caller. */
export function buildBot(opts: BuildOptions): Bot {
  const now = opts.now ?? (() => new Date());
  const metrics = opts.metrics ?? createMetrics();
  const instanceId = opts.instanceId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 6)}`;
  const env = opts.env ?? process.env;
  // Drills run against their own adapters; their channels' messages say DRILL (flows/drill/routing.ts).
  const drills = new Drills({
    everywhere: opts.drillWorld ?? false,
    ...(env.CLOUD_SAFETY_DRILL_POSTGRES_URL ? { postgresUrl: env.CLOUD_SAFETY_DRILL_POSTGRES_URL } : {}),
    bind: drillBindFromEnv(env),
    ...opts.drills,
  });
  const chat = drills.markChat(redactingChat(opts.chat, opts.redactor));
  const tasks = new Tasks(opts.log);
  const throttle = new Throttle(tasks, opts.editIntervalMs ?? 1000);
  const scheduler = new Scheduler({
    store: opts.store,
    tasks,
    log: opts.log,
    tickMs: opts.schedulerTickMs ?? 1000,
    // Durable timers run on the bot's clock, so a test (or a drill) that moves the clock moves them too.
    now: () => now().getTime(),
  });
  // Values the config names by environment variable (a sandbox's secretVars) are secrets whatever the variable
  // is called: the one redactor behind the log, chat and the timeline must know them before anything runs.
  opts.redactor.add(configSecretValues(opts.config, env));
  const keys = opts.keys ?? deriveKeys(env);
  const adapters = drills.routeEvidence({
    ...buildAdapters(opts.config, env, metrics, opts.log),
    ...opts.adapters,
    drills,
  });
  const timeline = new TimelineLog(opts.store, now, {
    hasher: (text) => keys.mac('timeline', text),
    redactor: opts.redactor,
  });
  // On-call approvers are looked up at click time, through the PagerDuty REST adapter built below.
  const oncall = (id: string, by: 'escalation_policy' | 'schedule') => {
    const rest = adapters.pagerduty;
    if (!rest?.oncallUsers) throw new Error('PagerDuty REST is not configured (PAGERDUTY_TOKEN)');
    return rest.oncallUsers(id, by);
  };
  // Its caches run on the bot's clock too: a test that moves the clock sees a group change or an on-call hand-off.
  const access = new Access(opts.config.access, (handle) => chat.groupMembers(handle), {
    oncall,
    now: () => now().getTime(),
  });
  const incidents = new Incidents({
    store: opts.store,
    chat,
    timeline,
    throttle,
    log: opts.log,
    now,
    scheduler,
    config: opts.config,
    evidence: adapters.evidence,
    isResponder: (user) => access.isResponder(user),
  });
  const approvals = new Approvals({
    store: opts.store,
    chat,
    access,
    incidents,
    scheduler,
    tasks,
    throttle,
    log: opts.log,
    now,
    instanceId,
    ...(opts.actionLease ? { lease: opts.actionLease } : {}),
    keys,
  });
  const pagerduty = new PagerDutyMirror({
    store: opts.store,
    incidents,
    timeline,
    tasks,
    scheduler,
    log: opts.log,
    redactor: opts.redactor,
    config: opts.config,
    env,
    now,
    instanceId,
    ...(adapters.pagerduty ? { rest: adapters.pagerduty } : {}),
    ...(adapters.pagerdutyEvents ? { events: adapters.pagerdutyEvents } : {}),
    ...(opts.pagerdutyMirror ? { options: opts.pagerdutyMirror } : {}),
  });
  const deps: Deps = {
    adapters,
    config: opts.config,
    store: opts.store,
    chat,
    log: opts.log,
    metrics,
    redactor: opts.redactor,
    access,
    tasks,
    throttle,
    scheduler,
    timeline,
    incidents,
    approvals,
    pagerduty,
    now,
    instanceId,
    keys,
  };
  // Durable timers must have their handlers before the scheduler starts, so a restarted bot still acts on them.
  registerSteps(deps, { ...(opts.breaker ? { breaker: opts.breaker } : {}) });
  registerIntegrations(deps, env);
  return new Bot(deps, stepParts());
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const mode = chooseMode(env);
  // Fault drills only: die at a named step boundary (see docs/faults.md).
  armCrashPoints(env.CLOUD_SAFETY_CRASH_AT);
  const redactor = createRedactor(secretValues(env));
  const log = createLogger(redactor, { level: env.LOG_LEVEL ?? (mode === 'console' ? 'error' : 'info') });
  const banner = process.stderr;
  const path = configPath(env, mode, banner);
  const config = loadConfig(path);
  let drill: DrillWorld | undefined;
  if (mode === 'console' && path === 'cloud-safety.example.yml' && !hasCloudCredentials(env)) {
    // No config and no cloud: a newcomer. Every adapter is the production one, pointed at simulated services.
    drill = await startDrillWorld({
      timeFactor: drillTimeFactor(env),
      scenario: drillScenario(env),
      ...(env.CLOUD_SAFETY_DRILL_POSTGRES_URL ? { postgresUrl: env.CLOUD_SAFETY_DRILL_POSTGRES_URL } : {}),
    });
    env = { ...env, ...drill.env };
    pointAtDrill(config, drill);
    banner.write(
      `=== DRILL: no cloud-safety.yml and no cloud credentials, so nothing real is touched. Simulated in this process:\n${drill.describe.map((line) => `  ${line}\n`).join('')}===\n`,
    );
  }
  let store: Store;
  const redis = redisConnectionFromEnv(env);
  if (redis) {
    store = await reachableRedis(redis, env.REDIS_PREFIX ?? 'cloud-safety:');
  } else if (mode === 'console') {
    banner.write(
      'REDIS_URL is not set: using an in-process store. Nothing survives a restart of this console.\n',
    );
    store = new MemoryStore();
  } else {
    throw new ConfigError(
      'REDIS_URL (or REDIS_SENTINELS + REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES) is required in Slack modes (state, approvals and the timeline live there), e.g. REDIS_URL=redis://127.0.0.1:6379',
    );
  }
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`PORT=${env.PORT} is not a port number`);
  const metrics = createMetrics();
  const allRoutes = healthRoutes({ store, metrics, mode });
  const stops: (() => Promise<void>)[] = [];
  // METRICS_PORT moves /metrics and /readyz to an internal port; PORT (public in HTTP mode) keeps /healthz only.
  const metricsPort = parsePort(env, 'METRICS_PORT');
  const routes = metricsPort === undefined ? allRoutes : allRoutes.filter((r) => r.path === '/healthz');
  if (metricsPort !== undefined) {
    const internal = await startHealthServer(allRoutes, metricsPort);
    stops.push(() => new Promise((resolve) => internal.server.close(() => resolve())));
    log.info({ port: internal.port }, 'metrics and readiness on the internal port');
  }

  if (mode === 'console') {
    const chat = new ConsoleChat({
      out: process.stdout,
      filesDir: env.CONSOLE_FILES_DIR ?? './console-files',
    });
    const opts = { config, store, chat, log, redactor, env, metrics, drillWorld: Boolean(drill) };
    // A drill with no ledger databases at all: /ledger says what is missing instead of a connection error.
    const missing = drill?.ledger.missing;
    const bot = buildBot(missing ? { ...opts, adapters: { ledger: missingLedgers(config, missing) } } : opts);
    checkPolicies(config, bot.deps.approvals.kinds(), path);
    routes.push(...integrationRoutes(bot.deps, env));
    await bot.start();
    try {
      const health = await startHealthServer(routes, port, '127.0.0.1');
      stops.push(() => new Promise((resolve) => health.server.close(() => resolve())));
      banner.write(`Health and metrics on http://127.0.0.1:${health.port}/healthz, /readyz, /metrics\n`);
    } catch (err) {
      banner.write(
        `Could not serve health endpoints on port ${port} (${(err as Error).message}); set PORT to a free port.\n`,
      );
    }
    const user = env.CONSOLE_USER ?? 'alice';
    const channel = env.CONSOLE_CHANNEL ?? '#incident';
    banner.write(
      `cloud-safety console (${store.kind} store). You are ${user} in ${channel}. Type /help for console commands, /incident help for the runbook.\n`,
    );
    const session = new ConsoleSession(bot, {
      input: process.stdin,
      out: process.stdout,
      chat,
      user,
      channel,
      interactive: Boolean(process.stdin.isTTY),
    });
    await session.run();
    await bot.stop();
    await bot.deps.adapters.drills?.stopAll();
    for (const stop of stops) await stop();
    await store.close();
    await drill?.stop();
    return;
  }

  const botToken = env.SLACK_BOT_TOKEN ?? '';
  const client = slackWebClient(botToken, {
    ...(env.SLACK_API_URL ? { apiUrl: env.SLACK_API_URL } : {}),
    retry: { retries: 5, factor: 2, minTimeout: 1000, maxTimeout: 30_000 },
  });
  // A 429 is waited out for its method only, up to 5 times per call (about what the client's retries allowed).
  const slackChat = new SlackChat(client, {
    budget: {
      retries: 5,
      onRateLimited: (method, retryAfterSec) =>
        log.warn({ method, retryAfterSec }, 'slack rate limited a method'),
    },
  });
  const bot = buildBot({ config, store, chat: slackChat, log, redactor, env, metrics });
  checkPolicies(config, bot.deps.approvals.kinds(), path);
  routes.push(...integrationRoutes(bot.deps, env));
  // Secrets the config names by environment variable must be there before the bot answers anyone.
  bot.deps.adapters.ledger?.check();
  await bot.start();
  const transport = await startSlack(bot, {
    mode,
    botToken,
    ...(env.SLACK_APP_TOKEN ? { appToken: env.SLACK_APP_TOKEN } : {}),
    ...(env.SLACK_SIGNING_SECRET ? { signingSecret: env.SLACK_SIGNING_SECRET } : {}),
    port,
    ...(env.SLACK_API_URL ? { apiUrl: env.SLACK_API_URL } : {}),
    routes,
    log,
  });
  if (mode === 'socket') {
    const health = await startHealthServer(routes, port);
    stops.push(() => new Promise((resolve) => health.server.close(() => resolve())));
  }
  log.info(
    { mode, port: transport.port, store: store.kind, services: Object.keys(config.services) },
    'cloud-safety started',
  );
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    // Hand the breaker evaluation to another replica now rather than when the lease lapses.
    await breakerEvaluatorOf(bot.deps)
      ?.release()
      .catch(() => {});
    await transport.stop();
    await bot.stop();
    await bot.deps.adapters.drills?.stopAll();
    for (const stop of stops) await stop();
    await store.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `${err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err))}\n`,
    );
    process.exit(1);
  });
}
