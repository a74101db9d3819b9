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
        authHint: 'the Statuspage API key is wrong or its user is not an Incident Manager of the page',
        notFoundHint: 'check incident.statuspage.pageId (Statuspage: your page > API info)',
      },
    );
    if (typeof res.id !== 'string') throw new Error(`Statuspage answered ${doing} without an incident id`);
    return {
      id: res.id,
      status: typeof res.status === 'string' ? res.status : '',
      ...(typeof res.shortlink === 'string' ? { shortlink: res.shortlink } : {}),
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
