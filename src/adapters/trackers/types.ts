// Issue trackers the post-mortem's follow-ups are filed in: a port returning our own types.

export interface FiledIssue {
  tracker: string;
  /** The tracker's own key: #123, OPS-42, ENG-7. */
  key: string;
  url: string;
}

export interface NewIssue {
  title: string;
  /** Markdown (GitHub, Linear) or plain paragraphs (Jira gets it as an Atlassian document). */
  body: string;
  /** A token unique to this follow-up of this incident, stored with the issue so a retry can find it. */
  marker: string;
  /** Where the issue links back to (the incident's API URL or Slack permalink). */
  link?: string;
}

export interface IssueTracker {
  readonly name: 'github' | 'jira' | 'linear';
  /** The issue filed earlier with this marker, if a create may have got through before a failure. */
  find(marker: string): Promise<FiledIssue | undefined>;
  create(issue: NewIssue): Promise<FiledIssue>;
}
