// Atlassian Statuspage REST API (v1): open and update an incident with one component's status. Our types out.
import type { Metrics } from '../metrics.ts';
import { saasJson } from './saas-http.ts';

export type ComponentStatus = 'operational' | 'degraded_performance' | 'partial_outage' | 'major_outage';
export type StatuspageIncidentStatus = 'investigating' | 'identified' | 'monitoring' | 'resolved';

export interface StatuspageChange {
  status: StatuspageIncidentStatus;
  body: string;
  componentId: string;
  componentStatus: ComponentStatus;
}

export interface StatuspageIncident {
  id: string;
  status: string;
  shortlink?: string;
}

/** What the incident flow needs of a status page. */
export interface StatusPage {
  createIncident(pageId: string, name: string, change: StatuspageChange): Promise<StatuspageIncident>;
  updateIncident(pageId: string, incidentId: string, change: StatuspageChange): Promise<StatuspageIncident>;
  /** The page's incidents that are not resolved yet (investigating, identified, monitoring), newest first. */
  listUnresolved(pageId: string): Promise<NamedStatuspageIncident[]>;
  /** One incident as it is now, with the text of its latest update (to see whether a failed write landed). */
  getIncident(pageId: string, incidentId: string): Promise<NamedStatuspageIncident & { latestBody?: string }>;
}

export type NamedStatuspageIncident = StatuspageIncident & { name: string };

const AUTH_HINT = 'the Statuspage API key is wrong or its user is not an Incident Manager of the page';
const NOT_FOUND_HINT = 'check incident.statuspage.pageId (Statuspage: your page > API info)';

/** Status and shortlink of an incident as the API answers it. */
function ours(res: { status?: unknown; shortlink?: unknown }): Omit<StatuspageIncident, 'id'> {
  return {
    status: typeof res.status === 'string' ? res.status : '',
    ...(typeof res.shortlink === 'string' ? { shortlink: res.shortlink } : {}),
  };
}

export class StatuspageClient implements StatusPage {
  #apiKey: string;
  #base: string;
  #metrics: Metrics | undefined;

  constructor(opts: { apiKey: string; apiUrl?: string; metrics?: Metrics }) {
    this.#apiKey = opts.apiKey;
    this.#base = (opts.apiUrl ?? 'https://api.statuspage.io/v1').replace(/\/$/, '');
    this.#metrics = opts.metrics;
  }

  #fields(change: StatuspageChange): Record<string, unknown> {
    return {
      status: change.status,
      body: change.body,
      component_ids: [change.componentId],
      components: { [change.componentId]: change.componentStatus },
    };
  }

  async #send(
    method: 'POST' | 'PATCH',
    path: string,
    body: unknown,
    doing: string,
  ): Promise<StatuspageIncident> {
    const res = await saasJson<{ id?: unknown; status?: unknown; shortlink?: unknown }>(
      { service: 'Statuspage', metrics: this.#metrics },
      {
        method,
        url: `${this.#base}${path}`,
        headers: { authorization: `OAuth ${this.#apiKey}` },
        body,
        doing,
        authHint: AUTH_HINT,
        notFoundHint: NOT_FOUND_HINT,
      },
    );
    if (typeof res.id !== 'string') throw new Error(`Statuspage answered ${doing} without an incident id`);
    return { ...ours(res), id: res.id };
  }

  async listUnresolved(pageId: string): Promise<NamedStatuspageIncident[]> {
    const res = await saasJson<unknown>(
      { service: 'Statuspage', metrics: this.#metrics },
      {
        method: 'GET',
        url: `${this.#base}/pages/${encodeURIComponent(pageId)}/incidents/unresolved?per_page=100`,
        headers: { authorization: `OAuth ${this.#apiKey}` },
        doing: `list the unresolved incidents of Statuspage page ${pageId}`,
        authHint: AUTH_HINT,
        notFoundHint: NOT_FOUND_HINT,
      },
    );
    if (!Array.isArray(res)) throw new Error('Statuspage answered the unresolved incidents without a list');
    return res.flatMap((i: { id?: unknown; name?: unknown; status?: unknown; shortlink?: unknown }) =>
      typeof i?.id === 'string' && typeof i.name === 'string' ? [{ ...ours(i), id: i.id, name: i.name }] : [],
    );
  }

  async getIncident(
    pageId: string,
    incidentId: string,
  ): Promise<NamedStatuspageIncident & { latestBody?: string }> {
    const res = await saasJson<{
      id?: unknown;
      name?: unknown;
      status?: unknown;
      shortlink?: unknown;
      incident_updates?: { body?: unknown; created_at?: unknown }[];
    }>(
      { service: 'Statuspage', metrics: this.#metrics },
      {
        method: 'GET',
        url: `${this.#base}/pages/${encodeURIComponent(pageId)}/incidents/${encodeURIComponent(incidentId)}`,
        headers: { authorization: `OAuth ${this.#apiKey}` },
        doing: `read Statuspage incident ${incidentId}`,
        authHint: AUTH_HINT,
        notFoundHint: NOT_FOUND_HINT,
      },
    );
    if (typeof res.id !== 'string')
      throw new Error(`Statuspage answered incident ${incidentId} without an id`);
    // incident_updates are newest first; sort by created_at anyway, the order is not documented as a guarantee.
    const updates = (Array.isArray(res.incident_updates) ? res.incident_updates : [])
      .filter((u) => typeof u.body === 'string')
      .sort((a, b) => String(b.created_at ?? '').localeCompare(String(a.created_at ?? '')));
    const latest = updates[0]?.body;
    return {
      ...ours(res),
      id: res.id,
      name: typeof res.name === 'string' ? res.name : '',
      ...(typeof latest === 'string' ? { latestBody: latest } : {}),
    };
  }

  createIncident(pageId: string, name: string, change: StatuspageChange): Promise<StatuspageIncident> {
    return this.#send(
      'POST',
      `/pages/${encodeURIComponent(pageId)}/incidents`,
      { incident: { name, ...this.#fields(change) } },
      `open an incident on Statuspage page ${pageId}`,
    );
  }

  updateIncident(pageId: string, incidentId: string, change: StatuspageChange): Promise<StatuspageIncident> {
    return this.#send(
      'PATCH',
      `/pages/${encodeURIComponent(pageId)}/incidents/${encodeURIComponent(incidentId)}`,
      { incident: this.#fields(change) },
      `update Statuspage incident ${incidentId}`,
    );
  }
}
