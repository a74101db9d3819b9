// Builds the follow-up trackers and page targets integrations.followUps and integrations.publish name.
import { resolveSecret, type Config } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import { ConfluencePages } from './pages/confluence.ts';
import { NotionPages } from './pages/notion.ts';
import type { PageTarget } from './pages/types.ts';
import { GitHubIssues } from './trackers/github.ts';
import { JiraIssues } from './trackers/jira.ts';
import { LinearIssues } from './trackers/linear.ts';
import type { IssueTracker } from './trackers/types.ts';

/** Every secret is read here, at start: a missing variable stops the start and names itself. */
export function buildIntegrationAdapters(
  config: Config,
  env: NodeJS.ProcessEnv,
  metrics?: Metrics,
): { trackers?: IssueTracker[]; pages?: PageTarget[] } {
  const follow = config.integrations?.followUps;
  const publish = config.integrations?.publish;
  const secret = (ref: Parameters<typeof resolveSecret>[0], path: string) =>
    resolveSecret(ref, `integrations.${path}`, env);
  const trackers: IssueTracker[] = [];
  if (follow?.github) {
    const g = follow.github;
    trackers.push(
      new GitHubIssues({
        repo: g.repo,
        token: secret(g.token, 'followUps.github.token'),
        labels: g.labels,
        ...(g.apiUrl ? { apiUrl: g.apiUrl } : {}),
        ...(metrics ? { metrics } : {}),
      }),
    );
  }
  if (follow?.jira) {
    const j = follow.jira;
    trackers.push(
      new JiraIssues({
        site: j.site,
        project: j.project,
        issueType: j.issueType,
        email: secret(j.email, 'followUps.jira.email'),
        token: secret(j.token, 'followUps.jira.token'),
        labels: j.labels,
        ...(metrics ? { metrics } : {}),
      }),
    );
  }
  if (follow?.linear) {
    const l = follow.linear;
    trackers.push(
      new LinearIssues({
        teamId: l.teamId,
        apiKey: secret(l.apiKey, 'followUps.linear.apiKey'),
        ...(l.apiUrl ? { apiUrl: l.apiUrl } : {}),
        ...(metrics ? { metrics } : {}),
      }),
    );
  }
  const pages: PageTarget[] = [];
  if (publish?.confluence) {
    const c = publish.confluence;
    pages.push(
      new ConfluencePages({
        site: c.site,
        spaceKey: c.spaceKey,
        ...(c.parentId ? { parentId: c.parentId } : {}),
        email: secret(c.email, 'publish.confluence.email'),
        token: secret(c.token, 'publish.confluence.token'),
        ...(metrics ? { metrics } : {}),
      }),
    );
  }
  if (publish?.notion) {
    const n = publish.notion;
    pages.push(
      new NotionPages({
        parentPageId: n.parentPageId,
        token: secret(n.token, 'publish.notion.token'),
        ...(n.apiUrl ? { apiUrl: n.apiUrl } : {}),
        ...(metrics ? { metrics } : {}),
      }),
    );
  }
  return {
    ...(trackers.length > 0 ? { trackers } : {}),
    ...(pages.length > 0 ? { pages } : {}),
  };
}
