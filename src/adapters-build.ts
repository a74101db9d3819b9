// Builds the adapters the config names (clouds, traffic, metrics, PagerDuty, evidence, ledger, integrations).
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { Route53Client } from '@aws-sdk/client-route-53';
import { Route53RecoveryClusterClient } from '@aws-sdk/client-route53-recovery-cluster';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { S3Client } from '@aws-sdk/client-s3';
import { buildLedgerAdapters } from './adapters/ledger/index.ts';
import { LocalEvidenceStore } from './adapters/evidence/local.ts';
import { S3EvidenceStore } from './adapters/evidence/s3.ts';
import { KubeClusters, loadKubeConfig } from './adapters/kubernetes/client.ts';
import { kubeConfigFor } from './adapters/kubernetes/clusters.ts';
import { gatewayKind, istioKind } from './adapters/kubernetes-route-kinds.ts';
import { KubeRouteTrafficAdapter } from './adapters/kubernetes-routes.ts';
import { clientRouteApi } from './adapters/kubernetes-routes-api.ts';
import { PrometheusClient } from './adapters/prometheus.ts';
import { SdkCloudWatchMetrics } from './adapters/cloudwatch.ts';
import { ProcessLoadRunner } from './adapters/load.ts';
import { TerraformCli } from './adapters/terraform.ts';
import { AlbTrafficAdapter, regionOfArn } from './adapters/alb.ts';
import { Route53TrafficAdapter } from './adapters/route53.ts';
import { ArcTrafficAdapter, type ArcEndpoint } from './adapters/arc-adapter.ts';
import { ArcControlConfig } from './adapters/arc-control-config.ts';
import { Route53Account } from './adapters/route53-account.ts';
import type { ServiceTraffic } from './adapters/traffic.ts';
import { StatuspageClient } from './adapters/statuspage.ts';
import { PdjsPagerDuty, PdjsPagerDutyEvents } from './adapters/pagerduty.ts';
import { type Config } from './config.ts';
import { resolveSecret } from './config-common.ts';
import type { Adapters } from './deps.ts';
import { ConfigError } from './errors.ts';
import { type Logger } from './log.ts';
import { type Metrics } from './metrics.ts';
import { buildIntegrationAdapters } from './adapters/integrations.ts';

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
  // One for the account: every service's reads, polls and changes share Route 53's 5 requests/s and zone queues.
  const route53Account = new Route53Account();
  const elb = new Map<string, ElasticLoadBalancingV2Client>();
  const arc = new Map<string, Route53RecoveryClusterClient>();
  let controlConfig: ArcControlConfig | undefined;
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
      layers.route53 = new Route53TrafficAdapter({
        client: route53,
        config: section.route53,
        metrics,
        log,
        account: route53Account,
      });
    }
    if (section.arc) {
      // The panel's safety rules come from the control-config API (us-west-2), read by /preflight only.
      controlConfig ??= new ArcControlConfig({
        metrics,
        ...(env.AWS_ENDPOINT_URL_ROUTE53_RECOVERY_CONTROL_CONFIG
          ? { endpoint: env.AWS_ENDPOINT_URL_ROUTE53_RECOVERY_CONTROL_CONFIG }
          : {}),
        ...awsCredentials(env),
      });
      // One client per Regional cluster endpoint; a short timeout so a hung endpoint hands over to the next one.
      layers.arc = new ArcTrafficAdapter({
        config: section.arc,
        metrics,
        log,
        controlConfig,
        clientFor: (ep: ArcEndpoint) => {
          const key = `${ep.region} ${ep.endpoint}`;
          let client = arc.get(key);
          if (!client) {
            client = new Route53RecoveryClusterClient({
              region: ep.region,
              endpoint: ep.endpoint,
              maxAttempts: 1,
              requestHandler: { requestTimeout: 5000, connectionTimeout: 3000 },
              ...awsCredentials(env),
            });
            arc.set(key, client);
          }
          return client;
        },
      });
    }
    for (const [layer, kind, context] of [
      ['gateway', section.gateway ? gatewayKind(section.gateway) : undefined, section.gateway?.context],
      ['istio', section.istio ? istioKind(section.istio) : undefined, section.istio?.context],
    ] as const) {
      if (!kind) continue;
      // The kubeconfig is read on first use: a console drill starts without one and says so when it is needed.
      const api = clientRouteApi(() => {
        const base = loadKubeConfig(env);
        if (!base) {
          throw new ConfigError(
            `traffic.${layer} needs Kubernetes credentials: set KUBECONFIG, run in-cluster with a service account, or create ~/.kube/config.`,
          );
        }
        return kubeConfigFor(base, context);
      }, metrics);
      layers[layer] = new KubeRouteTrafficAdapter({ kind, api, ...(context ? { context } : {}), log });
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
  const statuspage = config.incident.statuspage;
  if (statuspage) {
    adapters.statuspage = new StatuspageClient({
      apiKey: resolveSecret(statuspage.apiKey, 'incident.statuspage.apiKey', env),
      ...(env.STATUSPAGE_API_URL ? { apiUrl: env.STATUSPAGE_API_URL } : {}),
      metrics,
    });
  }
  if (env.PAGERDUTY_TOKEN || Object.values(config.services).some((s) => s.pagerduty?.routingKey)) {
    adapters.pagerdutyEvents = new PdjsPagerDutyEvents({
      ...(env.PAGERDUTY_EVENTS_URL ? { eventsUrl: env.PAGERDUTY_EVENTS_URL } : {}),
      ...(env.PAGERDUTY_EVENTS_CA ? { ca: env.PAGERDUTY_EVENTS_CA } : {}),
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
