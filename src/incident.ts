// The incident record (pure types and helpers): one active incident per channel.
import type { Checklist } from './runbook.ts';
import type { Actor } from './timeline.ts';

export interface MessageRef {
  channel: string;
  ts: string;
}

export type Severity = 'SEV1' | 'SEV2' | 'SEV3' | 'SEV4' | 'SEV5';

export interface Incident {
  id: string;
  service: string;
  title: string;
  severity: Severity;
  channel: string;
  /** The channel it was declared from, when it got a channel of its own. */
  declaredIn?: string;
  commander: Actor;
  /** Other roles (communications lead, scribe, …) by role name; the commander lives in `commander`. */
  roles?: Record<string, Actor>;
  /** When the last status update was posted (drives the update reminders). */
  lastUpdateAt?: string;
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
  const match = /^(?:sev)?([1-5])$/i.exec(text.trim());
  return match ? (`SEV${match[1]}` as Severity) : undefined;
}

/** 1 for SEV1 (worst) … 5 for SEV5. */
export function severityLevel(severity: Severity): number {
  return Number(severity.slice(3));
}

/** Who holds a role: the commander field for `commander`, else the roles map. */
export function roleHolder(incident: Incident, role: string): Actor | undefined {
  return role === 'commander' ? incident.commander : incident.roles?.[role];
}
