// The incident record (pure types and helpers): one active incident per channel.
import type { Checklist } from './runbook.ts';
import type { Actor } from './timeline.ts';

export interface MessageRef {
  channel: string;
  ts: string;
}

export type Severity = 'SEV1' | 'SEV2' | 'SEV3' | 'SEV4';

export interface Incident {
  id: string;
  service: string;
  title: string;
  severity: Severity;
  channel: string;
  commander: Actor;
  status: 'active' | 'resolved';
  declaredAt: string;
  resolvedAt?: string;
  resolution?: string;
  headline?: MessageRef;
  checklist: Checklist;
  lastEvent?: { summary: string; at: string };
  /** Set by the PagerDuty mirror when the incident is linked to one there. */
  pagerduty?: { id: string; url?: string; number?: number };
}

export function parseSeverity(text: string): Severity | undefined {
  const match = /^(?:sev)?([1-4])$/i.exec(text.trim());
  return match ? (`SEV${match[1]}` as Severity) : undefined;
}
