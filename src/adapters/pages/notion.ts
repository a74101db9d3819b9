// Notion (API 2022-06-28): the post-mortem as a child page, its blocks replaced on re-run.
import type { Metrics } from '../../metrics.ts';
import { base, saasJson } from '../saas-http.ts';
import type { DocBlock, PageTarget, PublishedPage, Span } from './types.ts';

export interface NotionOptions {
  /** The page the post-mortems go under (shared with the integration). */
  parentPageId: string;
  token: string;
  apiUrl?: string;
  metrics?: Metrics;
}

export const NOTION_VERSION = '2022-06-28';
/** Notion takes at most 100 blocks per request and 2000 characters per text object. */
const MAX_BLOCKS = 100;
const MAX_TEXT = 2000;

const AUTH_HINT =
  'check the Notion integration token and that the parent page is shared with the integration (capabilities: read, update and insert content)';

function richText(list: Span[]): Record<string, unknown>[] {
  return list.flatMap((s) => {
    const chunks: string[] = [];
    for (let i = 0; i < s.text.length; i += MAX_TEXT) chunks.push(s.text.slice(i, i + MAX_TEXT));
    return chunks.map((content) => ({
      type: 'text',
      text: { content },
      ...(s.code || s.bold ? { annotations: { code: Boolean(s.code), bold: Boolean(s.bold) } } : {}),
    }));
  });
}

/** Our blocks as Notion block objects (tables as table blocks with their rows as children). */
export function notionBlocks(blocks: DocBlock[]): Record<string, unknown>[] {
  return blocks.map((b) => {
    switch (b.type) {
      case 'heading': {
        const type = `heading_${b.level}`;
        return { object: 'block', type, [type]: { rich_text: richText(b.spans) } };
      }
      case 'paragraph':
        return { object: 'block', type: 'paragraph', paragraph: { rich_text: richText(b.spans) } };
      case 'bullet':
        return {
          object: 'block',
          type: 'bulleted_list_item',
          bulleted_list_item: { rich_text: richText(b.spans) },
        };
      case 'quote':
        return { object: 'block', type: 'quote', quote: { rich_text: richText(b.spans) } };
      case 'code':
        return {
          object: 'block',
          type: 'code',
          code: { rich_text: richText([{ text: b.text }]), language: 'plain text' },
        };
      case 'table': {
        const width = Math.max(1, ...b.rows.map((r) => r.length));
        return {
          object: 'block',
          type: 'table',
          table: {
            table_width: width,
            has_column_header: true,
            has_row_header: false,
            children: b.rows.map((row) => ({
              object: 'block',
              type: 'table_row',
              table_row: {
                cells: Array.from({ length: width }, (_, i) => richText(row[i] ?? [])),
              },
            })),
          },
        };
      }
    }
  });
}

export class NotionPages implements PageTarget {
  readonly name = 'notion' as const;
  #opts: NotionOptions;
  #base: string;

  constructor(opts: NotionOptions) {
    this.#opts = opts;
    this.#base = base(opts.apiUrl ?? 'https://api.notion.com');
  }

  #call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, doing: string, body?: unknown) {
    return saasJson<T>(
      { service: 'Notion', metrics: this.#opts.metrics },
      {
        method,
        url: `${this.#base}${path}`,
        headers: { authorization: `Bearer ${this.#opts.token}`, 'notion-version': NOTION_VERSION },
        ...(body !== undefined ? { body } : {}),
        doing,
        authHint: AUTH_HINT,
        notFoundHint: 'share the parent page with the integration (••• → Connections)',
      },
    );
  }

  async #append(pageId: string, children: Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < children.length; i += MAX_BLOCKS) {
      await this.#call('PATCH', `/v1/blocks/${pageId}/children`, `append to page ${pageId}`, {
        children: children.slice(i, i + MAX_BLOCKS),
      });
    }
  }

  async publish(input: { title: string; blocks: DocBlock[]; pageId?: string }): Promise<PublishedPage> {
    const children = notionBlocks(input.blocks);
    const title = { title: [{ type: 'text', text: { content: input.title.slice(0, MAX_TEXT) } }] };
    if (!input.pageId) {
      const page = await this.#call<{ id: string; url: string }>('POST', '/v1/pages', 'create a page', {
        parent: { page_id: this.#opts.parentPageId },
        properties: { title },
        children: children.slice(0, MAX_BLOCKS),
      });
      await this.#append(page.id, children.slice(MAX_BLOCKS));
      return { target: 'notion', id: page.id, url: page.url };
    }
    const page = await this.#call<{ id: string; url: string }>(
      'PATCH',
      `/v1/pages/${input.pageId}`,
      `rename page ${input.pageId}`,
      { properties: { title } },
    );
    // Replace the content: delete the page's blocks, then append the new ones.
    let cursor: string | undefined;
    const old: string[] = [];
    do {
      const list = await this.#call<{
        results: { id: string }[];
        has_more: boolean;
        next_cursor: string | null;
      }>(
        'GET',
        `/v1/blocks/${input.pageId}/children?page_size=100${cursor ? `&start_cursor=${cursor}` : ''}`,
        `list the blocks of page ${input.pageId}`,
      );
      old.push(...list.results.map((r) => r.id));
      cursor = list.has_more && list.next_cursor ? list.next_cursor : undefined;
    } while (cursor);
    for (const id of old)
      await this.#call('DELETE', `/v1/blocks/${id}`, `delete an old block of page ${input.pageId}`);
    await this.#append(input.pageId, children);
    return { target: 'notion', id: page.id, url: page.url };
  }
}
