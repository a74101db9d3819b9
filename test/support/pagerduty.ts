// PagerDuty answers shaped like the real API (developer.pagerduty.com examples), for nock scopes in tests.

export const PD_API = 'https://api.pagerduty.com';
export const PD_EVENTS = 'https://events.pagerduty.com';
export const PD_TOKEN = 'u+pd-test-token-9f8e7d6c5b4a';
export const PD_FROM = 'cloud-safety-bot@example.com';
export const PD_SERVICE = 'PWIXJZS';
export const ROUTING_KEY = 'e93facc04764012d7bfb002500d5d1a6';

/** An incident object as GET/POST/PUT /incidents return it. */
export function pdIncident(
  overrides: {
    id?: string;
    number?: number;
    title?: string;
    status?: 'triggered' | 'acknowledged' | 'resolved';
    urgency?: 'high' | 'low';
    incidentKey?: string;
  } = {},
) {
  const id = overrides.id ?? 'PT4KHLK';
  const number = overrides.number ?? 1234;
  const title = overrides.title ?? 'The server is on fire.';
  const status = overrides.status ?? 'triggered';
  return {
    id,
    type: 'incident',
    summary: `[#${number}] ${title}`,
    self: `https://api.pagerduty.com/incidents/${id}`,
    html_url: `https://subdomain.pagerduty.com/incidents/${id}`,
    incident_number: number,
    title,
    created_at: '2026-11-26T09:00:01Z',
    updated_at: '2026-11-26T09:00:01Z',
    status,
    incident_key: overrides.incidentKey ?? 'baf7cf21b1da41b4b0221008339ff357',
    service: {
      id: PD_SERVICE,
      type: 'service_reference',
      summary: 'Payments API',
      self: `https://api.pagerduty.com/services/${PD_SERVICE}`,
      html_url: `https://subdomain.pagerduty.com/service-directory/${PD_SERVICE}`,
    },
    assignments: [],
    assigned_via: 'escalation_policy',
    last_status_change_at: '2026-11-26T09:00:01Z',
    resolved_at: status === 'resolved' ? '2026-11-26T09:40:02Z' : null,
    first_trigger_log_entry: {
      id: 'Q02JTSNZWHSEKV',
      type: 'trigger_log_entry_reference',
      summary: 'Triggered through the API',
      self: `https://api.pagerduty.com/log_entries/Q02JTSNZWHSEKV?incident_id=${id}`,
      html_url: `https://subdomain.pagerduty.com/incidents/${id}/log_entries/Q02JTSNZWHSEKV`,
    },
    alert_counts: { all: 0, triggered: 0, resolved: 0 },
    is_mergeable: true,
    escalation_policy: {
      id: 'PT20YPA',
      type: 'escalation_policy_reference',
      summary: 'Payments on-call',
      self: 'https://api.pagerduty.com/escalation_policies/PT20YPA',
      html_url: 'https://subdomain.pagerduty.com/escalation_policies/PT20YPA',
    },
    teams: [],
    pending_actions: [],
    acknowledgements: [],
    alert_grouping: null,
    last_status_change_by: {
      id: PD_SERVICE,
      type: 'service_reference',
      summary: 'Payments API',
      self: `https://api.pagerduty.com/services/${PD_SERVICE}`,
      html_url: `https://subdomain.pagerduty.com/service-directory/${PD_SERVICE}`,
    },
    priority: null,
    resolve_reason: null,
    incidents_responders: [],
    responder_requests: [],
    subscriber_requests: [],
    urgency: overrides.urgency ?? 'high',
  };
}

/** POST /incidents/{id}/notes answers 201 with the note. */
export function pdNote(content: string, id = 'PWL7QXS') {
  return {
    note: {
      id,
      user: {
        id: 'PXPGF42',
        type: 'user_reference',
        summary: 'cloud-safety bot',
        self: 'https://api.pagerduty.com/users/PXPGF42',
        html_url: 'https://subdomain.pagerduty.com/users/PXPGF42',
      },
      channel: { summary: 'The PagerDuty website or APIs' },
      content,
      created_at: '2026-11-26T09:00:03Z',
    },
  };
}

/** GET /incidents list envelope (offset pagination). */
export function pdIncidentList(incidents: unknown[]) {
  return { incidents, limit: 25, offset: 0, total: null, more: false };
}

/** Error bodies as PagerDuty documents them ({ error: { message, code, errors } }). */
export const PD_ERRORS = {
  unauthorized: { error: { message: 'Authentication failed', code: 2006 } },
  notFound: { error: { message: 'Not Found', code: 2100 } },
  rateLimited: { error: { message: 'Rate Limit Exceeded', code: 2020 } },
  serviceNotFound: {
    error: { message: 'Invalid Input Provided', code: 2001, errors: ['Service not found.'] },
  },
  alreadyResolved: { error: { message: 'Incident Already Resolved', code: 1001, errors: [] } },
};

/** Events API v2 answers. */
export const EVENTS = {
  accepted: (dedupKey: string) => ({ status: 'success', message: 'Event processed', dedup_key: dedupKey }),
  invalid: {
    status: 'invalid event',
    message: 'Event object is invalid',
    errors: ["Length of 'routing_key' is incorrect (should be 32 characters)"],
  },
};
