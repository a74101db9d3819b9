// The dependencies every command and flow receives; only main.ts (and tests) build it.
import type { Access } from './access.ts';
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
import type { Approvals } from '../flows/approval.ts';
import type { Incidents } from '../flows/incident.ts';

/**
 * Outside systems, each behind a small port returning our own types. Each runbook step adds its own field;
 * a field is absent when nothing of that kind is configured.
 */
export interface Adapters {
  /** Step O: the ledger of each service with a `ledger` section (legacy and cloud PostgreSQL). */
  ledger?: LedgerAdapters;
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
