// The dependencies every command and flow receives; only main.ts (and tests) build it.
import type { Access } from './access.ts';
import type { EvidenceStore } from './adapters/evidence/store.ts';
import type { KubernetesClusters } from './adapters/kubernetes/types.ts';
import type { Prometheus } from './adapters/prometheus.ts';
import type { Chat } from './chat/chat.ts';
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import type { Redactor } from './redact.ts';
import type { Scheduler } from './scheduler.ts';
import type { Store } from './store/store.ts';
import type { Tasks, Throttle } from './tasks.ts';
import type { TimelineLog } from './timeline-log.ts';
import type { Approvals } from '../flows/approval.ts';
import type { Incidents } from '../flows/incident.ts';

/**
 * Outside systems, each behind a small port returning our own types. Each runbook step adds its own field;
 * a field is absent when nothing of that kind is configured.
 */
export interface Adapters {
  /** Step L: clusters by kubeconfig context (present when a service has a kubernetes section). */
  kubernetes?: KubernetesClusters;
  /** Where heap dumps, logs and snapshots are kept: evidence.dir or evidence.s3. */
  evidence?: EvidenceStore;
  /** Range queries for charts (present when a service configures kubernetes.prometheus). */
  prometheus?: Prometheus;
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
  now: () => Date;
  instanceId: string;
}
