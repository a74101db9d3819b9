// GitHub issues (REST v3): follow-ups as issues in one repository, found again by a marker in the body.
import type { Metrics } from '../../metrics.ts';
import { base, saasJson } from '../saas-http.ts';
import type { FiledIssue, IssueTracker, NewIssue } from './types.ts';

export interface GitHubOptions {
  /** owner/name */
  repo: string;
  token: string;
  labels: string[];
  apiUrl?: string;
  metrics?: Metrics;
}

interface GitHubIssue {
  number: number;
  html_url: string;
}

const AUTH_HINT =
  'check the token (a fine-grained token on this repository with Issues: read and write, or a GitHub App installation token)';

export class GitHubIssues implements IssueTracker {
  readonly name = 'github' as const;
  #opts: GitHubOptions;
  #base: string;

  constructor(opts: GitHubOptions) {
    this.#opts = opts;
    this.#base = base(opts.apiUrl ?? 'https://api.github.com');
  }

  #headers(): Record<string, string> {
    return {
      authorization: `Bearer ${this.#opts.token}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'user-agent': 'cloud-safety',
    };
  }

  async find(marker: string): Promise<FiledIssue | undefined> {
    const q = `repo:${this.#opts.repo} is:issue in:body "${marker}"`;
    const res = await saasJson<{ total_count: number; items: GitHubIssue[] }>(
      { service: 'GitHub', metrics: this.#opts.metrics },
      {
        method: 'GET',
        url: `${this.#base}/search/issues?q=${encodeURIComponent(q)}`,
        headers: this.#headers(),
        doing: `search ${this.#opts.repo} for an earlier follow-up`,
        authHint: AUTH_HINT,
      },
    );
    const hit = res.items[0];
    return hit ? { tracker: 'github', key: `#${hit.number}`, url: hit.html_url } : undefined;
  }

  async create(issue: NewIssue): Promise<FiledIssue> {
    const body = `${issue.body}${issue.link ? `\n\nIncident: ${issue.link}` : ''}\n\n<!-- ${issue.marker} -->`;
    const res = await saasJson<GitHubIssue>(
      { service: 'GitHub', metrics: this.#opts.metrics },
      {
        method: 'POST',
        url: `${this.#base}/repos/${this.#opts.repo}/issues`,
        headers: this.#headers(),
        body: {
          title: issue.title,
          body,
          ...(this.#opts.labels.length > 0 ? { labels: this.#opts.labels } : {}),
        },
        doing: `create an issue in ${this.#opts.repo}`,
        authHint: AUTH_HINT,
        notFoundHint: `check integrations.followUps.github.repo (owner/name) and that the token can see it`,
      },
    );
    return { tracker: 'github', key: `#${res.number}`, url: res.html_url };
  }
}
