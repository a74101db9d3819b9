// The PagerDuty ports and their types: incidents, on-call users, Events API triggers, and PagerDutyError.
import { ExternalServiceError } from '../errors.ts';

/** A PagerDuty incident as the bot needs it. */
export interface PagerDutyIncident {
  id: string;
  number?: number;
  url?: string;
  title: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  serviceId?: string;
  serviceName?: string;
  urgency?: string;
}

export interface CreateIncidentInput {
  serviceId: string;
  title: string;
  urgency: 'high' | 'low';
  /** De-duplication key: PagerDuty refuses a second open incident with the same key on the service. */
  incidentKey: string;
  details?: string;
}

/** The REST API (needs PAGERDUTY_TOKEN and PAGERDUTY_FROM). */
export interface PagerDuty {
  createIncident(input: CreateIncidentInput): Promise<PagerDutyIncident>;
  getIncident(id: string): Promise<PagerDutyIncident>;
  /** Open or resolved incidents created with this incident key (any age); empty when there is none. */
  findByIncidentKey(incidentKey: string): Promise<PagerDutyIncident[]>;
  addNote(incidentId: string, content: string): Promise<{ id: string }>;
  /** Resolves; an incident that is already resolved counts as done. */
  resolveIncident(incidentId: string, resolution?: string): Promise<PagerDutyIncident | null>;
  /** Reassigns and re-prioritises (PUT /incidents/{id}); only the fields given change. */
  updateIncident?(incidentId: string, fields: IncidentFields): Promise<PagerDutyIncident>;
  /** Who is on call now, at any level, for an escalation policy (or, with `by: 'schedule'`, a schedule) (GET /oncalls). */
  oncallUsers?(id: string, by?: 'escalation_policy' | 'schedule'): Promise<OncallUser[]>;
  /** The PagerDuty user with exactly this login email (GET /users?query=); null when there is none. */
  findUserByEmail?(email: string): Promise<OncallUser | null>;
}

/** What `updateIncident` may change: the assignee (a PagerDuty user id), the priority id, the urgency. */
export interface IncidentFields {
  assignee?: string;
  priority?: string;
  urgency?: 'high' | 'low';
}

/** A PagerDuty user on call now. */
export interface OncallUser {
  id: string;
  name: string;
  email?: string;
}

export interface TriggerInput {
  routingKey: string;
  summary: string;
  source: string;
  severity: 'critical' | 'error' | 'warning' | 'info';
  dedupKey?: string;
  component?: string;
  group?: string;
  class?: string;
  customDetails?: Record<string, unknown>;
  links?: { href: string; text?: string }[];
}

/** Events API v2 (needs only a service integration's routing key). */
export interface PagerDutyEvents {
  trigger(input: TriggerInput): Promise<{ dedupKey: string }>;
}

/** A PagerDuty failure with what the caller needs to decide: retry (and when) or tell a human. */
export class PagerDutyError extends ExternalServiceError {
  /** PagerDuty's own error code (2006 authentication failed, 2100 not found, 2020 rate limit...). */
  pagerdutyCode: number | undefined;
  /** From ratelimit-reset on a 429. */
  retryAfterMs: number | undefined;
  /** A create refused because an open incident already has its incident key: that incident is the answer. */
  duplicateKey: boolean;
  constructor(
    message: string,
    opts: {
      status?: number;
      retryable?: boolean;
      pagerdutyCode?: number;
      retryAfterMs?: number;
      duplicateKey?: boolean;
    } = {},
  ) {
    super('PagerDuty', message, opts);
    this.name = 'PagerDutyError';
    this.pagerdutyCode = opts.pagerdutyCode;
    this.retryAfterMs = opts.retryAfterMs;
    this.duplicateKey = opts.duplicateKey ?? false;
  }
}

/** PagerDuty object ids: PT4KHLK, Q2ZJT9XQ7OQ3WB... */
export const PAGERDUTY_ID = /^[A-Z0-9]{5,20}$/;
