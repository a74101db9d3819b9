// Linear (GraphQL): follow-ups as issues in one team, found again by a marker in the description.
import { ExternalServiceError } from '../../errors.ts';
import type { Metrics } from '../../metrics.ts';
import { base, saasJson } from '../saas-http.ts';
import type { FiledIssue, IssueTracker, NewIssue } from './types.ts';

export interface LinearOptions {
  /** The team's UUID (not its short key). */
  teamId: string;
  /** A personal API key (sent as is) or an OAuth token (sent as Bearer). */
  apiKey: string;
  apiUrl?: string;
  metrics?: Metrics;
}

interface GraphQlAnswer<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { userPresentableMessage?: string; type?: string } }[];
}

interface LinearIssue {
  id: string;
  identifier: string;
  url: string;
}

const AUTH_HINT = 'check the Linear API key (it needs write access to issues in the team)';

export class LinearIssues implements IssueTracker {
  readonly name = 'linear' as const;
  #opts: LinearOptions;
  #url: string;

  constructor(opts: LinearOptions) {
    this.#opts = opts;
    this.#url = base(opts.apiUrl ?? 'https://api.linear.app/graphql');
  }

  async #query<T>(query: string, variables: Record<string, unknown>, doing: string): Promise<T> {
    const key = this.#opts.apiKey;
    const res = await saasJson<GraphQlAnswer<T>>(
      { service: 'Linear', metrics: this.#opts.metrics },
      {
        method: 'POST',
        url: this.#url,
        headers: { authorization: key.startsWith('lin_oauth_') ? `Bearer ${key}` : key },
        body: { query, variables },
        doing,
        authHint: AUTH_HINT,
      },
    );
    // GraphQL answers 200 with errors: an authentication error is a refusal, anything else their failure.
    const error = res.errors?.[0];
    if (error || !res.data) {
      const message = error?.extensions?.userPresentableMessage ?? error?.message ?? 'no data';
      const auth = error?.extensions?.type === 'authentication error' || /authenticat/i.test(message);
      throw new ExternalServiceError(
        'Linear',
        `Linear could not ${doing}: ${message}${auth ? `; ${AUTH_HINT}` : ''}.`,
        { retryable: !auth && !/validation/i.test(message) },
      );
    }
    return res.data;
  }

  async find(marker: string): Promise<FiledIssue | undefined> {
    const data = await this.#query<{ issues: { nodes: LinearIssue[] } }>(
      `query FindFollowUp($marker: String!) {
  issues(filter: { description: { contains: $marker } }, first: 1) { nodes { id identifier url } }
}`,
      { marker },
      'search for an earlier follow-up',
    );
    const hit = data.issues.nodes[0];
    return hit ? { tracker: 'linear', key: hit.identifier, url: hit.url } : undefined;
  }

  async create(issue: NewIssue): Promise<FiledIssue> {
    const description = `${issue.body}${issue.link ? `\n\nIncident: ${issue.link}` : ''}\n\n${issue.marker}`;
    const data = await this.#query<{ issueCreate: { success: boolean; issue: LinearIssue | null } }>(
      `mutation FileFollowUp($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}`,
      { input: { teamId: this.#opts.teamId, title: issue.title, description } },
      'create an issue',
    );
    const created = data.issueCreate.issue;
    if (!data.issueCreate.success || !created) {
      throw new ExternalServiceError(
        'Linear',
        'Linear answered issueCreate without an issue; the bot retries.',
        {
          retryable: true,
        },
      );
    }
    return { tracker: 'linear', key: created.identifier, url: created.url };
  }
}
