// Everything the bot is built from; only main.ts (and tests) build it. Each step declares the part it needs
// (flows/<step>/caps.ts, a Pick of these fields) and sees only that; the whole Deps satisfies every step's.
import type { StatusPage } from './adapters/statuspage.ts';
import type { Access } from './access.ts';
import type { LoadRunner } from './adapters/load.ts';
import type { Terraform } from './adapters/terraform.ts';
import type { ServiceTraffic } from './adapters/traffic.ts';
import type { PagerDuty, PagerDutyEvents } from './adapters/pagerduty.ts';
import type { EvidenceStore } from './adapters/evidence/store.ts';
import type { KubernetesClusters } from './adapters/kubernetes/types.ts';
import type { Prometheus } from './adapters/prometheus.ts';
import type { CloudWatchMetrics } from './adapters/cloudwatch.ts';
import type { PageTarget } from './adapters/pages/types.ts';
import type { IssueTracker } from './adapters/trackers/types.ts';
import type { Chat } from './chat/chat.ts';
import type { Config } from './config.ts';
import type { LedgerAdapters } from './ledger.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { Redactor } from './redact.ts';
import type { Scheduler } from './scheduler.ts';
import type { Store } from './store/store.ts';
import type { Tasks, Throttle } from './tasks.ts';
import type { TimelineLog } from './timeline-log.ts';
import type { Approvals } from '../flows/approval/approval.ts';
import type { Keys } from './keys.ts';
import type { Incidents } from '../flows/incident/incident.ts';
import type { PagerDutyMirror } from '../flows/pagerduty/mirror.ts';
import type { Drills } from '../flows/drill/routing.ts';

/**
 * Outside systems, each behind a small port returning our own types. Each runbook step adds its own field;
 * a field is absent when nothing of that kind is configured.
 */
export interface Adapters {
  /** Step U: the Terraform CLI (present when any service has a `sandbox`). */
  terraform?: Terraform;
  /** Step U: runs a sandbox's `load.command`. */
  loadRunner?: LoadRunner;
  /** Step C: per service, the traffic layers its config names (route53, alb). */
  traffic?: Record<string, ServiceTraffic>;
  /** PagerDuty REST API (PAGERDUTY_TOKEN + PAGERDUTY_FROM): incidents, notes, resolve. */
  pagerduty?: PagerDuty;
  /** PagerDuty Events API v2 (a service's routingKey): the breaker's page when no incident is open. */
  pagerdutyEvents?: PagerDutyEvents;
  /** Step L: clusters by kubeconfig context (present when a service has a kubernetes section). */
  kubernetes?: KubernetesClusters;
  /** Where heap dumps, logs and snapshots are kept: evidence.dir or evidence.s3. */
  evidence?: EvidenceStore;
  /** Instant and range queries (present when a service configures kubernetes.prometheus or a Prometheus breaker). */
  prometheus?: Prometheus;
  /** Step D: CloudWatch GetMetricData (present when a service's breaker reads CloudWatch). */
  cloudwatch?: CloudWatchMetrics;
  /** Step O: the ledger of each service with a `ledger` section (legacy and cloud PostgreSQL). */
  ledger?: LedgerAdapters;
  /** Where the post-mortem's follow-ups are filed (integrations.followUps: GitHub, Jira, Linear). */
  trackers?: IssueTracker[];
  /** Where the post-mortem is published (integrations.publish: Confluence, Notion). */
  pages?: PageTarget[];
  /** Drills running in this bot: a drill incident's service resolves to the drill's own adapters (/drill). */
  drills?: Drills;
  /** Stakeholder status page (incident.statuspage). */
  statuspage?: StatusPage;
}

export interface Deps {
  adapters: Adapters;
  config: Config;
  store: Store;
  chat: Chat;
  log: Logger;
  metrics: Metrics;
  redactor: Redactor;
  access: Access;
  tasks: Tasks;
  throttle: Throttle;
  scheduler: Scheduler;
  timeline: TimelineLog;
  incidents: Incidents;
  approvals: Approvals;
  /** Keeps the PagerDuty incident in step with the channel; inert when PagerDuty is not configured. */
  pagerduty: PagerDutyMirror;
  now: () => Date;
  instanceId: string;
  /** The out-of-Redis secret: approval bindings and timeline hashes. */
  keys: Keys;
}

/**
 * What most runbook steps read, so their `caps.ts` can say it in one word: the service's outside systems, the
 * config, the store, the chat, the log, the incidents and the clock.
 */
export type StepCore = Pick<Deps, 'adapters' | 'config' | 'store' | 'chat' | 'log' | 'incidents' | 'now'>;
