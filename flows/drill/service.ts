// The drill service: a config section that points only at one drill world's simulators, and the adapter set built
// from it. Built with the production builder (buildAdapters) from a config naming only this service and an
// environment holding only the simulators' endpoints, so no real endpoint can be reached from it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAdapters } from '../../src/adapters-build.ts';
import { Service, type Config } from '../../src/config.ts';
import type { Adapters } from '../../src/deps.ts';
import {
  DRILL_CLOUD_TG,
  DRILL_LEGACY_TG,
  DRILL_LISTENER,
  DRILL_NAMESPACE as NAMESPACE,
  DRILL_ZONE,
  type DrillWorld,
} from '../../src/startup.ts';
import type { Logger } from '../../src/log.ts';
import type { Metrics } from '../../src/metrics.ts';

const LEGACY_ENV = 'CS_DRILL_LEGACY_DB_URL';
const CLOUD_ENV = 'CS_DRILL_CLOUD_DB_URL';

/** The drill service's config: the scenario's service, pointed at this world's simulators. */
export function drillService(
  world: { app: string; prometheusUrl: string; cdc?: { url: string; connector: string } },
  channel: string,
  context: string,
): Service {
  const { app, prometheusUrl: prometheus } = world;
  const cloud = `namespace="${NAMESPACE}", service="${app}-cloud"`;
  return Service.parse({
    channel,
    traffic: {
      route53: {
        hostedZoneId: DRILL_ZONE,
        recordName: 'api.payments.example.com',
        recordType: 'A',
        legacy: 'legacy',
        cloud: 'cloud',
        maxTtl: 60,
      },
      // The drill's ALB behind the cloud record, as in the console drill: /contain shifts Route 53 then the ALB.
      alb: {
        listenerArn: DRILL_LISTENER,
        legacyTargetGroupArn: DRILL_LEGACY_TG,
        cloudTargetGroupArn: DRILL_CLOUD_TG,
      },
    },
    kubernetes: {
      context,
      namespace: NAMESPACE,
      selector: `app=${app},track=cloud`,
      container: 'app',
      runtime: 'jvm',
      forensicsNamespace: 'forensics',
      maxQuarantine: 3,
    },
    ledger: {
      legacy: { env: LEGACY_ENV },
      cloud: { env: CLOUD_ENV },
      table: 'public.ledger_entries',
      key: 'id',
      columns: ['txn_id', 'account', 'side', 'amount', 'currency', 'payload', 'updated_at'],
      updatedAt: 'updated_at',
      required: ['account', 'payload'],
      doubleEntry: { group: 'txn_id', amount: 'amount', side: 'side', debit: 'debit', credit: 'credit' },
      window: '2h',
      ...(world.cdc ? { cdc: { kind: 'debezium', url: world.cdc.url, connector: world.cdc.connector } } : {}),
      lock: { role: `${app.replace(/-/g, '_')}_cloud_writer` },
    },
    breaker: {
      source: { prometheus },
      memory: `max by (namespace, pod, container) (container_memory_working_set_bytes{namespace="${NAMESPACE}", container="app", pod=~"${app}-cloud-.*"}) / on (namespace, pod, container) max by (namespace, pod, container) (kube_pod_container_resource_limits{namespace="${NAMESPACE}", container="app", pod=~"${app}-cloud-.*", resource="memory"})`,
      errors: `sum(rate(http_requests_total{${cloud}, code=~"5.."}[2m])) / sum(rate(http_requests_total{${cloud}}[2m]))`,
      minRps: `sum(rate(http_requests_total{${cloud}}[2m])) >= bool 5`,
      thresholds: { memory: 0.8, errors: 0.01 },
      interval: '30s',
      failureLimit: 3,
      errorLimit: 4,
    },
    canary: { steps: [1, 5, 25, 50], bake: '10m' },
  });
}

/** The drill's own adapters: the production builder, given only the drill service and the simulators' env. */
export function drillAdapters(
  base: Config,
  service: string,
  section: Service,
  world: Pick<DrillWorld, 'env' | 'ledger'>,
  metrics: Metrics,
  log: Logger,
): { adapters: Adapters; evidenceDir: string } {
  const evidenceDir = mkdtempSync(join(tmpdir(), 'cs-drill-evidence-'));
  // No integrations: follow-ups and pages are the real bot's business, not the drill's.
  const { integrations: _none, ...rest } = base;
  const config: Config = { ...rest, evidence: { dir: evidenceDir }, services: { [service]: section } };
  // Only the simulators' endpoints: nothing of the bot's own environment (real credentials) is passed on.
  const env: NodeJS.ProcessEnv = {
    ...world.env,
    [LEGACY_ENV]: world.ledger.legacy,
    [CLOUD_ENV]: world.ledger.cloud,
  };
  return { adapters: buildAdapters(config, env, metrics, log), evidenceDir };
}
