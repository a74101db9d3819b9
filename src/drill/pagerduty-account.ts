// The simulated PagerDuty account's state: services, incidents (REST-created at once, Events-created after ingestion),
// notes; in the shapes the REST API v2 answers with.
import { randomBytes } from 'node:crypto';

export interface PdService {
  id: string;
  name: string;
  /** Integration key of its Events API v2 integration (32 characters). */
  routingKey: string;
}

export interface PdIncidentRecord {
  id: string;
  number: number;
  title: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  urgency: 'high' | 'low';
  incidentKey: string;
  service: PdService;
  createdAt: number;
  /** When it shows in GET /incidents (the Events API ingests asynchronously). */
  visibleAt: number;
  via: 'rest' | 'events';
  resolution?: string;
  priority?: string;
  assignee?: string;
  notes: { id: string; content: string; at: number }[];
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** PagerDuty ids: P + 6 upper-case letters and digits. */
export function pdId(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ0123456789';
  return `P${[...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

function reference(type: string, id: string, summary: string, path: string) {
  return {
    id,
    type,
    summary,
    self: `https://api.pagerduty.com/${path}/${id}`,
    html_url: `https://drill.pagerduty.com/${path}/${id}`,
  };
}

/** An incident as GET/POST/PUT /incidents answer it. */
export function incidentJson(i: PdIncidentRecord) {
  return {
    ...reference('incident', i.id, `[#${i.number}] ${i.title}`, 'incidents'),
    incident_number: i.number,
    title: i.title,
    created_at: iso(i.createdAt),
    updated_at: iso(i.notes.at(-1)?.at ?? i.createdAt),
    status: i.status,
    incident_key: i.incidentKey,
    service: reference('service_reference', i.service.id, i.service.name, 'services'),
    assignments: i.assignee
      ? [{ at: iso(i.createdAt), assignee: reference('user_reference', i.assignee, i.assignee, 'users') }]
      : [],
    assigned_via: 'escalation_policy',
    last_status_change_at: iso(i.createdAt),
    resolved_at: i.status === 'resolved' ? iso(i.notes.at(-1)?.at ?? i.createdAt) : null,
    alert_counts: { all: i.via === 'events' ? 1 : 0, triggered: 0, resolved: 0 },
    is_mergeable: true,
    escalation_policy: reference(
      'escalation_policy_reference',
      'PDRILEP',
      `${i.service.name} on-call`,
      'escalation_policies',
    ),
    teams: [],
    pending_actions: [],
    acknowledgements: [],
    priority: i.priority ? reference('priority_reference', i.priority, i.priority, 'priorities') : null,
    resolve_reason: null,
    urgency: i.urgency,
  };
}

/** PagerDuty's error body: { error: { message, code, errors } }. */
export function pdError(message: string, code: number, errors: string[] = []) {
  return { error: { message, code, ...(errors.length > 0 ? { errors } : {}) } };
}
