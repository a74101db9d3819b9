// The embedded drill world: simulated Route 53, ELBv2, CloudWatch, PagerDuty, Kubernetes, Prometheus and two ledger
// databases playing a scenario,
// started in the bot's own process; the production adapters reach them through the same endpoint overrides a user would set.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCloudWatchServer, storyMetrics, type CloudWatchServer } from './cloudwatch.ts';
import {
  DRILL_CLOUD_TG,
  DRILL_LEGACY_TG,
  DRILL_LISTENER,
  ELB_FAIL_AFTER_COMMIT,
  drillLoadBalancer,
  startElbv2Server,
  type Elbv2Server,
} from './elbv2.ts';
import { startDrillPagerDuty, type DrillPagerDuty } from './pagerduty.ts';
import { FakeCluster, NAMESPACE, type ClusterWorld, type PodSpecInput } from './kubernetes.ts';
import { DrillControlPlane } from './kubernetes-control.ts';
import { LOCAL_BIND, type DrillBind } from './bind.ts';
import { startKafkaConnect, type KafkaConnectServer } from './kafka-connect.ts';
import { chooseLedger, type EmbeddedStarter } from './ledger-choice.ts';
import { drillKey, startPrometheusServer } from './prometheus.ts';
import {
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  FAIL_AFTER_COMMIT,
  drillRecords,
  startRoute53Server,
  type Route53Server,
} from './route53.ts';
import type { RecordSet } from './route53-xml.ts';
import { FAULTS, loadScenario, type FaultName, type Scenario } from './scenario.ts';
import { Story } from './story.ts';

export interface DrillWorldOptions {
  /** Compresses the story: 1.0 runs Route 53's real 60 s propagation, 0.05 a 3 s one (the console default). */
  timeFactor: number;
  /** Where the machine's PostgreSQL is (default postgres://postgres@127.0.0.1:5432/postgres). */
  postgresUrl?: string;
  /** Starts the embedded ledgers when that PostgreSQL cannot be used (default PGlite); false: no ledgers then. */
  embeddedLedger?: EmbeddedStarter | false;
  /** The story (default: the seed scenario). */
  scenario?: Scenario;
  /** The clock the story, Route 53's propagation and the faults run on (default Date.now). */
  now?: () => number;
  /** Told of every OOMKill in the story (the drill step puts it on the incident's timeline). */
  onOom?: (pod: string, restarts: number, at: number) => void;
  /** Told of every fault, scheduled or injected. */
  onFault?: (fault: FaultName, what: string) => void;
  /** Where the simulators listen and the name other replicas reach them by (default 127.0.0.1). */
  bind?: DrillBind;
  /** How long the cluster's exec takes to start (default 400 ms, a kubelet's round trip; the exec-slow fault 3 s). */
  execStartMs?: number;
}

export interface DrillWorld {
  /** Environment overrides that point the production adapters at the simulators. */
  env: Record<string, string>;
  /** Base URL of the simulated Prometheus query API. */
  prometheusUrl: string;
  /** The ledger's CDC: a Kafka Connect REST API running a Debezium connector (`ledger.cdc` kind debezium). */
  cdc: KafkaConnectServer;
  /** One line per service, for the banner. */
  describe: string[];
  scenario: Scenario;
  story: Story;
  route53: Route53Server;
  elbv2: Elbv2Server;
  cloudwatch: CloudWatchServer;
  pagerduty: DrillPagerDuty;
  cluster: FakeCluster;
  /** The two ledger databases, or why there are none. */
  ledger: { legacy: string; cloud: string; missing?: string };
  /** Faults added so far (scheduled by the scenario or injected live), in order. */
  injected: { at: number; fault: FaultName }[];
  /** Adds a fault now; returns what happened, for the channel. */
  inject(fault: FaultName): string;
  /** The cloud stack's share of traffic now (0..1): Route 53's cloud share, times the ALB's behind it. */
  cloudShare(): number;
  stop(): Promise<void>;
}

/** Is there anything that would make the AWS SDK talk to a real account? */
export function hasCloudCredentials(env: NodeJS.ProcessEnv): boolean {
  return Boolean(
    env.AWS_ACCESS_KEY_ID ||
    env.AWS_PROFILE ||
    env.AWS_WEB_IDENTITY_TOKEN_FILE ||
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI ||
    env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ||
    env.AWS_ENDPOINT_URL_ROUTE_53 ||
    env.KUBECONFIG ||
    env.KUBERNETES_SERVICE_HOST,
  );
}

const MiB = 1024 * 1024;
/** The drill's CDC connector (the example config's sync is called ledger_sync too). */
export const CDC_CONNECTOR = 'ledger_sync';
/** What the app image carries: the dump tools, and nc for the isolation probe. */
const POD_TOOLS = new Set(['sh', 'jcmd', 'sha256sum', 'wc', 'tail', 'head', 'rm', 'nc']);

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The story's pods as the API server shows them: restarts and the last OOMKill move as the story runs. */
function podSpecs(story: Story, scenario: Scenario): PodSpecInput[] {
  story.advance();
  return story.pods.map((pod) => ({
    name: pod.name,
    restarts: pod.restarts,
    ...(pod.lastOomAt !== undefined
      ? { lastTermination: { reason: 'OOMKilled', exitCode: 137, finishedAt: iso(pod.lastOomAt) } }
      : {}),
    memoryLimit: `${scenario.pods.limitMiB}Mi`,
    labels: { app: scenario.service, track: 'cloud', 'pod-template-hash': '7d9f8b6c5' },
  }));
}

async function startKubernetes(
  story: Story,
  scenario: Scenario,
  now: () => number,
  timeFactor: number,
  bind: DrillBind,
  execStartMs = 400,
): Promise<{ cluster: FakeCluster; kubeconfig: string; dir: string }> {
  const cluster = new FakeCluster();
  // exec is slow to start on a real kubelet (container runtime round trip); the bot must not assume otherwise.
  cluster.execStartMs = execStartMs;
  // A heap dump of realistic shape: gzip-sized tens of MiB, streamed through exec like the real kubelet does.
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  for (const pod of story.pods)
    cluster.addPod(pod.name, { heap: { size: scenario.pods.heapDumpMiB * MiB, block }, tools: POD_TOOLS });
  const base: ClusterWorld = {
    pods: () => podSpecs(story, scenario),
    usage: () => {
      story.advance();
      return Object.fromEntries(story.pods.map((p) => [p.name, `${Math.round(p.memoryMiB)}Mi`]));
    },
    events: () => {
      story.advance();
      return story.pods
        .filter((p) => p.lastOomAt !== undefined)
        .map((p) => ({
          pod: p.name,
          reason: 'BackOff',
          message: 'Back-off restarting failed container app in pod after OOMKilled',
          count: Math.max(1, p.restarts),
          last: iso(p.lastOomAt ?? now()),
        }));
    },
    log: (pod) =>
      `${iso(now())} WARN  [${pod}] GC overhead limit approaching: heap 97% after full GC\n` +
      `${iso(now())} ERROR [${pod}] java.lang.OutOfMemoryError: Java heap space\n` +
      `\tat com.example.${scenario.service.replace(/-/g, '')}.SettlementCache.put(SettlementCache.java:88)\n`,
  };
  // Services, the ReplicaSet, NetworkPolicies and relabels, over a pod network whose plugin may enforce policies.
  const { enforcesNetworkPolicy, policyDelay } = scenario.network;
  const network = { enforces: enforcesNetworkPolicy, delayMs: policyDelay * timeFactor };
  const app = scenario.service;
  const baselineMiB = scenario.pods.baselineMiB;
  cluster.serve(new DrillControlPlane({ cluster, base, app, network, baselineMiB, now }));
  await cluster.start(bind);
  const dir = mkdtempSync(join(tmpdir(), 'cs-drill-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, cluster.kubeConfig().exportConfig());
  return { cluster, kubeconfig, dir };
}

/** The Prometheus answers of the story: each stack's memory, 5xx, traffic and latency, read at query time. */
function prometheusAnswer(
  story: Story,
  cloudShare: () => number,
  legacyErrors: number,
): (query: string) => string {
  return (query) => {
    const key = drillKey(query);
    const legacy = /legacy/.test(query);
    const share = legacy ? 1 - cloudShare() : cloudShare();
    if (key === 'traffic') return share > 0 ? '1' : '0';
    if (legacy) {
      if (key === 'memory') return '0.45';
      if (key === 'errors') return String(legacyErrors);
      return '0.2';
    }
    if (key === 'memory') return story.worstFraction().toFixed(4);
    if (key === 'errors') return story.cloudErrorRatio().toFixed(5);
    // Latency climbs with memory pressure, as GC pauses lengthen.
    return (0.2 + 1.5 * Math.max(0, story.worstFraction() - 0.75)).toFixed(3);
  };
}

/** The scenario's weighted pair on the drill zone, with its weights and TTL. */
function scenarioRecords(scenario: Scenario): RecordSet[] {
  const { legacy, cloud, ttl } = scenario.traffic;
  return drillRecords(ttl).map((r) =>
    r.setIdentifier === 'legacy'
      ? { ...r, weight: legacy }
      : r.setIdentifier === 'cloud'
        ? { ...r, weight: cloud }
        : r,
  );
}

export async function startDrillWorld(opts: DrillWorldOptions): Promise<DrillWorld> {
  const scenario = opts.scenario ?? loadScenario('seed');
  const now = opts.now ?? Date.now;
  const bind = opts.bind ?? LOCAL_BIND;
  const syncDelayMs = Math.max(250, Math.round(scenario.traffic.propagation * opts.timeFactor));
  const route53 = await startRoute53Server({
    zones: { [DRILL_ZONE]: scenarioRecords(scenario) },
    healthChecks: { [DRILL_HEALTH_CHECK]: scenario.traffic.legacyHealthyCheckers },
    syncDelayMs,
    now,
    bind,
  });
  // The ALB sits behind the cloud record and starts forwarding everything to the cloud target group.
  const elbv2 = await startElbv2Server({ ...drillLoadBalancer(0, 100), now, bind });
  // PagerDuty's Events API takes a few seconds to turn a trigger into an incident.
  const pagerduty = await startDrillPagerDuty({ service: scenario.service, ingestionMs: 2000, now, bind });
  const albCloud = () => {
    const weights = elbv2.weights(DRILL_LISTENER);
    const total = Object.values(weights).reduce((sum, w) => sum + w, 0);
    return total === 0 ? 1 : (weights[DRILL_CLOUD_TG] ?? 0) / total;
  };
  const dnsCloudShare = () => {
    const pair = route53.records(DRILL_ZONE).filter((r) => r.setIdentifier !== undefined && r.type === 'A');
    const total = pair.reduce((sum, r) => sum + (r.weight ?? 0), 0);
    const cloud = pair.find((r) => r.setIdentifier === 'cloud')?.weight ?? 0;
    // All weights 0: Route 53 spreads traffic evenly.
    return total === 0 ? 0.5 : cloud / total;
  };
  const cloudShare = () => dnsCloudShare() * albCloud();
  const injected: { at: number; fault: FaultName }[] = [];
  const started: { cluster?: FakeCluster; cdc?: KafkaConnectServer } = {};
  const story: Story = new Story({
    scenario,
    timeFactor: opts.timeFactor,
    now,
    cloudShare,
    onFault: (fault) => inject(fault),
    onOom: (pod, at) => opts.onOom?.(pod.name, pod.restarts, at),
  });
  function inject(fault: FaultName): string {
    injected.push({ at: now(), fault });
    const what = apply(fault);
    opts.onFault?.(fault, what);
    return what;
  }
  function apply(fault: FaultName): string {
    switch (fault) {
      case 'route53-throttling':
        route53.throttleNext(5);
        return FAULTS[fault];
      case 'fail-after-commit':
        route53.failNext('ChangeResourceRecordSets', 1, FAIL_AFTER_COMMIT);
        return FAULTS[fault];
      case 'oom': {
        const pod = story.oomNow();
        return pod ? `${pod.name} OOMKilled (restart ${pod.restarts})` : FAULTS[fault];
      }
      case 'legacy-unhealthy':
        route53.setHealth(DRILL_HEALTH_CHECK, 2);
        elbv2.setTargetHealth(
          DRILL_LEGACY_TG,
          'unhealthy',
          'Target.ResponseCodeMismatch',
          'Health checks failed with these codes: [503]',
        );
        return FAULTS[fault];
      case 'legacy-healthy':
        route53.setHealth(DRILL_HEALTH_CHECK, 8);
        elbv2.setTargetHealth(DRILL_LEGACY_TG, 'healthy');
        return FAULTS[fault];
      case 'alb-throttling':
        elbv2.throttleNext(5);
        return FAULTS[fault];
      case 'alb-fail-after-commit':
        elbv2.failNext('ModifyListener', 1, ELB_FAIL_AFTER_COMMIT);
        return FAULTS[fault];
      case 'pagerduty-rate-limit':
        pagerduty.server.throttleNext(5);
        return FAULTS[fault];
      case 'exec-slow':
        if (started.cluster) started.cluster.execStartMs = 3000;
        return FAULTS[fault];
      case 'cdc-failed':
        started.cdc?.fail();
        return FAULTS[fault];
      case 'cdc-restarted':
        started.cdc?.restart();
        return FAULTS[fault];
    }
  }
  const kube = await startKubernetes(story, scenario, now, opts.timeFactor, bind, opts.execStartMs);
  started.cluster = kube.cluster;
  // The story's metrics: the cloud pods' memory and 5xx follow the leak, and recover once traffic leaves them.
  const prometheus = await startPrometheusServer({
    answer: prometheusAnswer(story, cloudShare, scenario.errors.base),
    bind,
  });
  // CloudWatch publishes the same story (Container Insights memory, the ALB's requests, 5xx and latency).
  const cloudwatch = await startCloudWatchServer({
    sample: storyMetrics(story, cloudShare, scenario.errors.base),
    now,
    bind,
  });
  const cdc = await startKafkaConnect({
    connector: CDC_CONNECTOR,
    state: scenario.cdc.state,
    restartMs: Math.max(250, Math.round(scenario.cdc.restart * opts.timeFactor)),
    now,
    bind,
  });
  started.cdc = cdc;
  const ledger = await chooseLedger(
    opts.postgresUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    scenario,
    opts.embeddedLedger,
  );
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL_ROUTE_53: route53.url,
    AWS_ACCESS_KEY_ID: 'drill',
    AWS_SECRET_ACCESS_KEY: 'drill',
    AWS_REGION: 'us-east-1',
    KUBECONFIG: kube.kubeconfig,
    AWS_ENDPOINT_URL_ELASTIC_LOAD_BALANCING_V2: elbv2.url,
    AWS_ENDPOINT_URL_CLOUDWATCH: cloudwatch.url,
    ...pagerduty.env,
  };
  // Without usable databases the URLs still point where the drill looked, so /ledger's own connection error
  // names the address and the reason instead of a missing variable.
  env.PAYMENTS_LEGACY_DB_URL = ledger.legacy;
  env.PAYMENTS_CLOUD_DB_URL = ledger.cloud;
  const cluster = kube.cluster;
  const dir = kube.dir;
  const worst = Math.max(...scenario.pods.list.map((p) => p.memoryMiB)) / scenario.pods.limitMiB;
  return {
    scenario,
    story,
    route53,
    elbv2,
    cloudwatch,
    pagerduty,
    cluster,
    env,
    prometheusUrl: prometheus.url,
    cdc,
    ledger: {
      legacy: ledger.legacy,
      cloud: ledger.cloud,
      ...('missing' in ledger ? { missing: ledger.missing } : {}),
    },
    injected,
    inject,
    cloudShare,
    describe: [
      `scenario ${scenario.name}: ${scenario.title}`,
      `Route 53 ${route53.url} (zone ${DRILL_ZONE}, INSYNC after ${(syncDelayMs / 1000).toFixed(1)} s, time factor ${opts.timeFactor})`,
      `ELBv2 ${elbv2.url} (ALB payments-edge behind the cloud record: legacy 0 / cloud 100; reads lag writes by 1.5 s)`,
      `CloudWatch ${cloudwatch.url} (GetMetricData: the story's memory, 5xx, requests and latency)`,
      pagerduty.describe,
      `Kubernetes ${cluster.url} (namespace ${NAMESPACE}, ${story.pods.length} cloud pods leaking memory, heap dumps ${scenario.pods.heapDumpMiB} MiB, exec starts in ${cluster.execStartMs} ms, ${scenario.network.enforcesNetworkPolicy ? 'NetworkPolicy enforced' : 'NetworkPolicy NOT enforced'})`,
      `Prometheus ${prometheus.url} (memory ${Math.round(worst * 100)}% of limit, 5xx ${(story.cloudErrorRatio() * 100).toFixed(1)}%, following the leak)`,
      ledger.describe,
      `Kafka Connect ${cdc.url} (CDC connector ${CDC_CONNECTOR}, task ${cdc.state()}: cloud writes flow back to legacy)`,
    ],
    stop: async () => {
      await route53.stop();
      await elbv2.stop();
      await cloudwatch.stop();
      await pagerduty.server.stop();
      await cluster.stop();
      await prometheus.stop();
      await cdc.stop();
      if ('stop' in ledger) await ledger.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
