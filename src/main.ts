// Composition root: reads the environment and config, builds every concrete class, picks the transport.
import { armCrashPoints } from './crash.ts';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Route53Client } from '@aws-sdk/client-route-53';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { WebClient } from '@slack/web-api';
import { registerSteps, stepParts } from '../commands/index.ts';
import { buildLedgerAdapters } from './adapters/ledger/index.ts';
import { Approvals } from '../flows/approval/approval.ts';
import { breakerEvaluatorOf, type BreakerOptions } from '../flows/breaker/evaluator.ts';
import { Incidents } from '../flows/incident/incident.ts';
import { PagerDutyMirror, type MirrorOptions } from '../flows/pagerduty/mirror.ts';
import { LocalEvidenceStore } from './adapters/evidence/local.ts';
import { S3EvidenceStore } from './adapters/evidence/s3.ts';
import { KubeClusters, loadKubeConfig } from './adapters/kubernetes/client.ts';
import { PrometheusClient } from './adapters/prometheus.ts';
import { SdkCloudWatchMetrics } from './adapters/cloudwatch.ts';
import { Access } from './access.ts';
import { ProcessLoadRunner } from './adapters/load.ts';
import { TerraformCli } from './adapters/terraform.ts';
import { AlbTrafficAdapter, regionOfArn } from './adapters/alb.ts';
import { Route53TrafficAdapter } from './adapters/route53.ts';
import type { ServiceTraffic } from './adapters/traffic.ts';
import { PdjsPagerDuty, PdjsPagerDutyEvents } from './adapters/pagerduty.ts';
import { Bot } from './bot.ts';
import type { Chat } from './chat/chat.ts';
import { ConsoleChat } from './chat/console/chat.ts';
import { ConsoleSession } from './chat/console/repl.ts';
import { redactingChat } from './chat/redacting.ts';
import { SlackChat } from './chat/slack/chat.ts';
import { startSlack } from './chat/slack/app.ts';
import { loadConfig, type Config } from './config.ts';
import type { Adapters, Deps } from './deps.ts';
import { ConfigError } from './errors.ts';
import { healthRoutes, startHealthServer } from './http.ts';
import { createLogger, type Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { createRedactor, type Redactor } from './redact.ts';
import { deriveKeys, type Keys } from './keys.ts';
import { Scheduler } from './scheduler.ts';
import { MemoryStore } from './store/memory.ts';
import { RedisStore } from './store/redis.ts';
import type { Store } from './store/store.ts';
import { Tasks, Throttle } from './tasks.ts';
import { TimelineLog } from './timeline-log.ts';
import { integrationRoutes, registerIntegrations } from '../flows/integrations/index.ts';
import { buildIntegrationAdapters } from './adapters/integrations.ts';
import { hasCloudCredentials, startDrillWorld, type DrillWorld } from './drill/world.ts';

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
}

/** Static keys when the environment has them (drills, tests); otherwise the SDK's default credential chain. */
function awsCredentials(env: NodeJS.ProcessEnv) {
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) return {};
  return {
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    },
  };
}

/** Route 53 and ALB adapters per service (step C). SDK retries are off: the adapters retry with their own backoff. */
function buildTraffic(
  config: Config,
  env: NodeJS.ProcessEnv,
  metrics: Metrics,
  log: Logger,
): Record<string, ServiceTraffic> | undefined {
  const traffic: Record<string, ServiceTraffic> = {};
  let route53: Route53Client | undefined;
  const elb = new Map<string, ElasticLoadBalancingV2Client>();
  for (const [service, { traffic: section }] of Object.entries(config.services)) {
    if (!section) continue;
    const layers: ServiceTraffic = {};
    if (section.route53) {
      // Route 53 is global; its API lives in us-east-1. AWS_ENDPOINT_URL_ROUTE_53 points it at a local endpoint.
      route53 ??= new Route53Client({
        region: 'us-east-1',
        maxAttempts: 1,
        ...(env.AWS_ENDPOINT_URL_ROUTE_53 ? { endpoint: env.AWS_ENDPOINT_URL_ROUTE_53 } : {}),
        ...awsCredentials(env),
      });
      layers.route53 = new Route53TrafficAdapter({ client: route53, config: section.route53, metrics, log });
    }
    if (section.alb) {
      const region = regionOfArn(section.alb.listenerArn) ?? env.AWS_REGION ?? 'us-east-1';
      let client = elb.get(region);
      if (!client) {
        client = new ElasticLoadBalancingV2Client({
          region,
          maxAttempts: 1,
          ...(env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2
            ? { endpoint: env.AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2 }
            : {}),
          ...awsCredentials(env),
        });
        elb.set(region, client);
      }
      layers.alb = new AlbTrafficAdapter({ client, config: section.alb, metrics, log });
    }
    traffic[service] = layers;
  }
  return Object.keys(traffic).length > 0 ? traffic : undefined;
}

/** Builds adapters for what the config names; each runbook step adds its own here. */
export function buildAdapters(
  config: Config,
  env: NodeJS.ProcessEnv,
  metrics: Metrics,
  log: Logger,
): Adapters {
  const adapters: Adapters = {};
  if (Object.values(config.services).some((s) => s.sandbox)) {
    adapters.terraform = new TerraformCli({
      binary: env.TERRAFORM_BIN || 'terraform',
      env,
      ...(env.TERRAFORM_WORK_DIR ? { workDir: env.TERRAFORM_WORK_DIR } : {}),
      metrics,
      log,
    });
    adapters.loadRunner = new ProcessLoadRunner({ env, metrics });
  }
  const traffic = buildTraffic(config, env, metrics, log);
  if (traffic) adapters.traffic = traffic;
  if (env.PAGERDUTY_TOKEN) {
    if (!env.PAGERDUTY_FROM) {
      throw new ConfigError(
        'PAGERDUTY_TOKEN is set without PAGERDUTY_FROM: set it to the email of the PagerDuty user the bot acts as (PagerDuty requires it to create incidents and add notes).',
      );
    }
    adapters.pagerduty = new PdjsPagerDuty({
      token: env.PAGERDUTY_TOKEN,
      from: env.PAGERDUTY_FROM,
      ...(env.PAGERDUTY_API_URL ? { apiUrl: env.PAGERDUTY_API_URL } : {}),
      metrics,
    });
  }
  if (env.PAGERDUTY_TOKEN || Object.values(config.services).some((s) => s.pagerduty?.routingKey)) {
    adapters.pagerdutyEvents = new PdjsPagerDutyEvents({
      ...(env.PAGERDUTY_EVENTS_URL ? { eventsUrl: env.PAGERDUTY_EVENTS_URL } : {}),
      metrics,
    });
  }
  const services = Object.values(config.services);
  adapters.evidence =
    'dir' in config.evidence
      ? new LocalEvidenceStore(config.evidence.dir)
      : new S3EvidenceStore(
          new S3Client({
            ...(config.evidence.s3.region ? { region: config.evidence.s3.region } : {}),
          }),
          { bucket: config.evidence.s3.bucket, prefix: config.evidence.s3.prefix },
        );
  if (services.some((s) => s.kubernetes)) {
    // Loaded on first use: a console drill starts without a kubeconfig and says so when /telemetry needs one.
    adapters.kubernetes = new KubeClusters(() => loadKubeConfig(env), metrics);
  }
  if (services.some((s) => s.kubernetes?.prometheus || (s.breaker && 'prometheus' in s.breaker.source))) {
    adapters.prometheus = new PrometheusClient(metrics);
  }
  if (services.some((s) => s.breaker && 'cloudwatch' in s.breaker.source)) {
    // One client per region; AWS_ENDPOINT_URL_CLOUDWATCH points them at a local endpoint. SDK retries are off:
    // the breaker's next interval is the retry.
    const clients = new Map<string, CloudWatchClient>();
    adapters.cloudwatch = new SdkCloudWatchMetrics({
      metrics,
      clientFor: (region) => {
        const name = region ?? env.AWS_REGION ?? 'us-east-1';
        let client = clients.get(name);
        if (!client) {
          client = new CloudWatchClient({
            region: name,
            maxAttempts: 1,
            ...(env.AWS_ENDPOINT_URL_CLOUDWATCH ? { endpoint: env.AWS_ENDPOINT_URL_CLOUDWATCH } : {}),
            ...awsCredentials(env),
          });
          clients.set(name, client);
        }
        return client;
      },
    });
  }
  const ledger = buildLedgerAdapters(config, env, metrics, log);
  if (ledger) adapters.ledger = ledger;
  Object.assign(adapters, buildIntegrationAdapters(config, env, metrics));
  return adapters;
}

/** Wires every part of the bot; transports are attached by the caller. */
export function buildBot(opts: BuildOptions): Bot {
  const now = opts.now ?? (() => new Date());
  const metrics = opts.metrics ?? createMetrics();
  const instanceId = opts.instanceId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 6)}`;
  const chat = redactingChat(opts.chat, opts.redactor);
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
  const env = opts.env ?? process.env;
  // Values the config names by environment variable (a sandbox's secretVars) are secrets whatever the variable
  // is called: the one redactor behind the log, chat and the timeline must know them before anything runs.
  opts.redactor.add(configSecretValues(opts.config, env));
  const keys = opts.keys ?? deriveKeys(env);
  const adapters = {
    ...buildAdapters(opts.config, env, metrics, opts.log),
    ...opts.adapters,
  };
  const timeline = new TimelineLog(opts.store, now, {
    hasher: (text) => keys.mac('timeline', text),
    redactor: opts.redactor,
  });
  // On-call approvers are looked up at click time, through the PagerDuty REST adapter built below.
  const oncall = (policyId: string) => {
    const rest = adapters.pagerduty;
    if (!rest?.oncallUsers) throw new Error('PagerDuty REST is not configured (PAGERDUTY_TOKEN)');
    return rest.oncallUsers(policyId);
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

function parsePort(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`${name}=${text} is not a port number (0-65535).`);
  return port;
}

/** Where REDIS_URL points, without its password. */
function redisWhere(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}`;
  } catch {
    return 'REDIS_URL';
  }
}

/** Opens the store and checks Redis answers within a few seconds; otherwise one line says so (no stack trace). */
async function reachableRedis(url: string, prefix: string): Promise<Store> {
  const store = new RedisStore(url, { prefix });
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
    `Redis at ${redisWhere(url)} is not reachable (${reason}). Start Redis or fix REDIS_URL; the bot keeps its state there and did not start.`,
  );
}

function configPath(env: NodeJS.ProcessEnv, mode: Mode, out: NodeJS.WritableStream): string {
  if (env.CLOUD_SAFETY_CONFIG) return env.CLOUD_SAFETY_CONFIG;
  if (existsSync('cloud-safety.yml') || mode !== 'console') return 'cloud-safety.yml';
  out.write('No cloud-safety.yml here: using cloud-safety.example.yml for this console session.\n');
  return 'cloud-safety.example.yml';
}

/** CLOUD_SAFETY_DRILL_TIME_FACTOR: 1.0 runs a drill at real speed (a game day); the console default compresses it. */
function drillTimeFactor(env: NodeJS.ProcessEnv): number {
  const text = env.CLOUD_SAFETY_DRILL_TIME_FACTOR;
  if (text === undefined || text === '') return 0.05;
  const factor = Number(text);
  if (!(factor > 0 && factor <= 1))
    throw new ConfigError(
      `CLOUD_SAFETY_DRILL_TIME_FACTOR=${text} is not a number in (0, 1], e.g. 0.05 or 1.0.`,
    );
  return factor;
}

/** Points every Prometheus the config names at the drill's simulated query API. */
function pointAtDrill(config: Config, prometheusUrl: string): void {
  for (const service of Object.values(config.services)) {
    if (service.breaker && 'prometheus' in service.breaker.source)
      service.breaker.source.prometheus = prometheusUrl;
    if (service.kubernetes?.prometheus) service.kubernetes.prometheus.url = prometheusUrl;
  }
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
      ...(env.CLOUD_SAFETY_DRILL_POSTGRES_URL ? { postgresUrl: env.CLOUD_SAFETY_DRILL_POSTGRES_URL } : {}),
    });
    env = { ...env, ...drill.env };
    pointAtDrill(config, drill.prometheusUrl);
    banner.write(
      `=== DRILL: no cloud-safety.yml and no cloud credentials, so nothing real is touched. Simulated in this process:\n${drill.describe.map((line) => `  ${line}\n`).join('')}===\n`,
    );
  }
  let store: Store;
  if (env.REDIS_URL) {
    store = await reachableRedis(env.REDIS_URL, env.REDIS_PREFIX ?? 'cloud-safety:');
  } else if (mode === 'console') {
    banner.write(
      'REDIS_URL is not set: using an in-process store. Nothing survives a restart of this console.\n',
    );
    store = new MemoryStore();
  } else {
    throw new ConfigError(
      'REDIS_URL is required in Slack modes (state, approvals and the timeline live there), e.g. REDIS_URL=redis://127.0.0.1:6379',
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
    const bot = buildBot({ config, store, chat, log, redactor, env, metrics });
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
    for (const stop of stops) await stop();
    await store.close();
    await drill?.stop();
    return;
  }

  const botToken = env.SLACK_BOT_TOKEN ?? '';
  const client = new WebClient(botToken, {
    ...(env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {}),
    retryConfig: { retries: 5, factor: 2, minTimeout: 1000, maxTimeout: 30_000 },
  });
  const bot = buildBot({ config, store, chat: new SlackChat(client), log, redactor, env, metrics });
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
