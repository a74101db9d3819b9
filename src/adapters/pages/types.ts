// Wikis the post-mortem is published to: a port taking the document as simple blocks, returning our own types.

/** Inline text with the two marks the post-mortem uses. */
export interface Span {
  text: string;
  code?: boolean;
  bold?: boolean;
}

export type DocBlock =
  | { type: 'heading'; level: 1 | 2 | 3; spans: Span[] }
  | { type: 'paragraph'; spans: Span[] }
  | { type: 'bullet'; spans: Span[] }
  | { type: 'quote'; spans: Span[] }
  | { type: 'code'; text: string }
  | { type: 'table'; rows: Span[][][] };

export interface PublishedPage {
  target: string;
  id: string;
  url: string;
  /** Confluence's version number after this publish. */
  version?: number;
}

export interface PageTarget {
  readonly name: 'confluence' | 'notion';
  /** Creates the page, or replaces the content of `pageId` (a re-run updates the same page). */
  publish(input: { title: string; blocks: DocBlock[]; pageId?: string }): Promise<PublishedPage>;
}
