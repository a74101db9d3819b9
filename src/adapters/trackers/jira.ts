// Jira Cloud (REST v3): follow-ups as issues in one project, found again by a marker label.
import type { Metrics } from '../../metrics.ts';
import { base, saasJson } from '../saas-http.ts';
import type { FiledIssue, IssueTracker, NewIssue } from './types.ts';

export interface JiraOptions {
  /** https://<site>.atlassian.net */
  site: string;
  project: string;
  issueType: string;
  email: string;
  token: string;
  labels: string[];
  metrics?: Metrics;
}

const AUTH_HINT =
  'check the Jira email and API token (the user needs Browse projects and Create issues in the project)';

/** Atlassian Document Format: one paragraph per block of text, a link as a link mark. */
export function adf(text: string, link?: string): Record<string, unknown> {
  const paragraphs = text
    .split(/\n{2,}/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => ({ type: 'paragraph', content: [{ type: 'text', text: p }] }));
  if (link) {
    paragraphs.push({
      type: 'paragraph',
      content: [
        { type: 'text', text: 'Incident: ' },
        { type: 'text', text: link, marks: [{ type: 'link', attrs: { href: link } }] } as never,
      ],
    });
  }
  return { type: 'doc', version: 1, content: paragraphs };
}

export class JiraIssues implements IssueTracker {
  readonly name = 'jira' as const;
  #opts: JiraOptions;
  #base: string;

  constructor(opts: JiraOptions) {
    this.#opts = opts;
    this.#base = base(opts.site);
  }

  #headers(): Record<string, string> {
    return {
      authorization: `Basic ${Buffer.from(`${this.#opts.email}:${this.#opts.token}`).toString('base64')}`,
    };
  }

  #browse(key: string): string {
    return `${this.#base}/browse/${key}`;
  }

  async find(marker: string): Promise<FiledIssue | undefined> {
    const jql = `project = "${this.#opts.project}" AND labels = "${marker}"`;
    const res = await saasJson<{ issues?: { key: string }[] }>(
      { service: 'Jira', metrics: this.#opts.metrics },
      {
        method: 'GET',
        url: `${this.#base}/rest/api/3/search/jql?jql=${encodeURIComponent(jql)}&fields=key&maxResults=1`,
        headers: this.#headers(),
        doing: `search ${this.#opts.project} for an earlier follow-up`,
        authHint: AUTH_HINT,
      },
    );
    const hit = res.issues?.[0];
    return hit ? { tracker: 'jira', key: hit.key, url: this.#browse(hit.key) } : undefined;
  }

  async create(issue: NewIssue): Promise<FiledIssue> {
    const res = await saasJson<{ id: string; key: string; self: string }>(
      { service: 'Jira', metrics: this.#opts.metrics },
      {
        method: 'POST',
        url: `${this.#base}/rest/api/3/issue`,
        headers: this.#headers(),
        body: {
          fields: {
            project: { key: this.#opts.project },
            issuetype: { name: this.#opts.issueType },
            summary: issue.title.slice(0, 254),
            description: adf(issue.body, issue.link),
            labels: [...this.#opts.labels, issue.marker],
          },
        },
        doing: `create an issue in project ${this.#opts.project}`,
        authHint: AUTH_HINT,
        notFoundHint: 'check integrations.followUps.jira.site',
      },
    );
    return { tracker: 'jira', key: res.key, url: this.#browse(res.key) };
  }
}
