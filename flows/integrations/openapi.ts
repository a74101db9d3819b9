// The OpenAPI 3.1 document of the read-only API and the alert receivers, served at GET /api/v1/openapi.json.

const error = {
  description: 'What was wrong and what to send instead',
  content: {
    'application/json': {
      schema: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
    },
  },
};

const actor = {
  type: 'object',
  required: ['type', 'id', 'name'],
  properties: {
    type: { enum: ['user', 'system', 'breaker'] },
    id: { type: 'string' },
    name: { type: 'string' },
  },
};

const incident = {
  type: 'object',
  required: [
    'id',
    'service',
    'title',
    'severity',
    'status',
    'channel',
    'commander',
    'declaredAt',
    'checklist',
  ],
  properties: {
    id: { type: 'string', pattern: '^INC-[0-9]+$' },
    service: { type: 'string' },
    title: { type: 'string' },
    severity: { enum: ['SEV1', 'SEV2', 'SEV3', 'SEV4'] },
    status: { enum: ['active', 'resolved'] },
    channel: { type: 'string' },
    commander: actor,
    declaredAt: { type: 'string', format: 'date-time' },
    resolvedAt: { type: 'string', format: 'date-time' },
    resolution: { type: 'string' },
    checklist: { type: 'object', description: 'The five runbook steps (C, L, O, U, D) and their states' },
    lastEvent: { type: 'object', properties: { summary: { type: 'string' }, at: { type: 'string' } } },
    pagerduty: { type: 'object', properties: { id: { type: 'string' }, url: { type: 'string' } } },
  },
};

const event = {
  type: 'object',
  required: ['at', 'incident', 'step', 'kind', 'actor', 'summary', 'data', 'prev', 'hash'],
  properties: {
    at: { type: 'string', format: 'date-time' },
    incident: { type: 'string' },
    step: { enum: ['C', 'L', 'O', 'U', 'D', null] },
    kind: { type: 'string' },
    actor,
    summary: { type: 'string' },
    data: { type: 'object' },
    prev: { type: ['string', 'null'], description: 'hash of the previous event' },
    hash: { type: 'string', description: 'SHA-256 over the event (sorted-key JSON) with prev' },
  },
};

const verification = {
  type: 'object',
  required: ['ok', 'count'],
  properties: {
    ok: { type: 'boolean' },
    count: { type: 'integer' },
    head: { type: ['string', 'null'] },
    index: { type: 'integer', description: 'when broken: the first bad event' },
    id: { type: 'string' },
    reason: { type: 'string' },
  },
};

const intake = {
  type: 'object',
  required: ['received', 'declared', 'attached', 'resolved', 'duplicates', 'unmatched', 'truncated'],
  properties: {
    received: { type: 'integer' },
    declared: { type: 'array', items: { type: 'string' }, description: 'incidents declared by these alerts' },
    attached: { type: 'array', items: { type: 'string' }, description: 'open incidents these alerts joined' },
    resolved: {
      type: 'array',
      items: { type: 'string' },
      description: 'incidents noted with a resolved alert',
    },
    duplicates: {
      type: 'integer',
      description: 'alerts already handled (repeat or regrouped notifications)',
    },
    unmatched: { type: 'integer', description: "alerts whose labels match no service's alerts.match" },
    truncated: { type: 'integer' },
  },
};

const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^INC-[0-9]+$' },
};

function json(description: string, schema: object) {
  return { description, content: { 'application/json': { schema } } };
}

function hook(summary: string) {
  return {
    post: {
      summary,
      security: [{ bearer: [] }, { hmac: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
      responses: {
        '200': json('What became of each alert', intake),
        '400': error,
        '401': error,
        '413': error,
        '415': error,
      },
    },
  };
}

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'cloud-safety integrations API',
    version: '1',
    description:
      'Read-only access to incidents, their hash-chained timelines and post-mortems, and the alert receivers. docs/integrations.md shows the configuration.',
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'integrations.token' },
      hmac: {
        type: 'apiKey',
        in: 'header',
        name: 'X-Cloud-Safety-Signature',
        description: 'sha256=<hex HMAC-SHA256 of the body with integrations.hmacSecret>',
      },
    },
    schemas: { Incident: incident, TimelineEvent: event, Verification: verification, AlertIntake: intake },
  },
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/incidents': {
      get: {
        summary: 'List incidents, newest first',
        parameters: [
          { name: 'status', in: 'query', required: false, schema: { enum: ['active', 'resolved'] } },
        ],
        responses: {
          '200': json('The incidents', {
            type: 'object',
            required: ['incidents'],
            properties: { incidents: { type: 'array', items: incident } },
          }),
          '400': error,
          '401': error,
        },
      },
    },
    '/api/v1/incidents/{id}': {
      get: {
        summary: 'One incident',
        parameters: [idParam],
        responses: { '200': json('The incident', incident), '400': error, '401': error, '404': error },
      },
    },
    '/api/v1/incidents/{id}/timeline': {
      get: {
        summary: 'The timeline and whether its hash chain verifies',
        parameters: [idParam],
        responses: {
          '200': json('Events in order with the chain verification', {
            type: 'object',
            required: ['incident', 'verification', 'events'],
            properties: {
              incident: { type: 'string' },
              verification,
              events: { type: 'array', items: event },
            },
          }),
          '400': error,
          '401': error,
          '404': error,
        },
      },
    },
    '/api/v1/incidents/{id}/postmortem': {
      get: {
        summary: 'The post-mortem built from the timeline now (cloud-safety.postmortem/v1)',
        parameters: [idParam],
        responses: {
          '200': json('The post-mortem document', {
            type: 'object',
            required: ['schema', 'incident'],
            properties: { schema: { const: 'cloud-safety.postmortem/v1' }, incident: { type: 'object' } },
          }),
          '400': error,
          '401': error,
          '404': error,
        },
      },
    },
    '/hooks/alertmanager': hook('Prometheus Alertmanager webhook (payload version 4)'),
    '/hooks/grafana': hook('Grafana alerting webhook contact point'),
  },
} as const;
