// Confluence Cloud (REST content API): the post-mortem as one page in a space, updated in place on re-run.
import type { Metrics } from '../../metrics.ts';
import { ExternalServiceError } from '../../errors.ts';
import { base, saasJson } from '../saas-http.ts';
import type { DocBlock, PageTarget, PublishedPage, Span } from './types.ts';

export interface ConfluenceOptions {
  /** https://<site>.atlassian.net */
  site: string;
  spaceKey: string;
  /** A page to publish under. */
  parentId?: string;
  email: string;
  token: string;
  metrics?: Metrics;
}

interface ContentAnswer {
  id: string;
  version: { number: number };
  _links: { webui: string; base?: string };
}

const AUTH_HINT =
  'check the Confluence email and API token (the user needs View and Add pages in the space; scopes read:confluence-content.all and write:confluence-content)';

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function spans(list: Span[]): string {
  return list
    .map((s) => {
      let out = escape(s.text);
      if (s.code) out = `<code>${out}</code>`;
      if (s.bold) out = `<strong>${out}</strong>`;
      return out;
    })
    .join('');
}

/** Confluence storage format (XHTML); code blocks use the code macro. */
export function storageFormat(blocks: DocBlock[]): string {
  const out: string[] = [];
  let list: string[] = [];
  const flush = () => {
    if (list.length > 0) out.push(`<ul>${list.join('')}</ul>`);
    list = [];
  };
  for (const block of blocks) {
    if (block.type === 'bullet') {
      list.push(`<li>${spans(block.spans)}</li>`);
      continue;
    }
    flush();
    if (block.type === 'heading') out.push(`<h${block.level}>${spans(block.spans)}</h${block.level}>`);
    else if (block.type === 'paragraph') out.push(`<p>${spans(block.spans)}</p>`);
    else if (block.type === 'quote') out.push(`<blockquote><p>${spans(block.spans)}</p></blockquote>`);
    else if (block.type === 'code') {
      out.push(
        `<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[${block.text.replace(/]]>/g, ']]]]><![CDATA[>')}]]></ac:plain-text-body></ac:structured-macro>`,
      );
    } else {
      const [head, ...rows] = block.rows;
      const th = (head ?? []).map((c) => `<th>${spans(c)}</th>`).join('');
      const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${spans(c)}</td>`).join('')}</tr>`).join('');
      out.push(`<table><tbody><tr>${th}</tr>${trs}</tbody></table>`);
    }
  }
  flush();
  return out.join('\n');
}

export class ConfluencePages implements PageTarget {
  readonly name = 'confluence' as const;
  #opts: ConfluenceOptions;
  #base: string;

  constructor(opts: ConfluenceOptions) {
    this.#opts = opts;
    this.#base = base(opts.site);
  }

  #headers(): Record<string, string> {
    return {
      authorization: `Basic ${Buffer.from(`${this.#opts.email}:${this.#opts.token}`).toString('base64')}`,
    };
  }

  #page(res: ContentAnswer): PublishedPage {
    const root = res._links.base ?? `${this.#base}/wiki`;
    return {
      target: 'confluence',
      id: res.id,
      url: `${root}${res._links.webui}`,
      version: res.version.number,
    };
  }

  async publish(input: { title: string; blocks: DocBlock[]; pageId?: string }): Promise<PublishedPage> {
    const service = { service: 'Confluence', metrics: this.#opts.metrics };
    const body = { storage: { value: storageFormat(input.blocks), representation: 'storage' } };
    let pageId = input.pageId;
    if (!pageId) {
      try {
        return await this.#create(input.title, body);
      } catch (err) {
        // A create whose answer was lost got through: Confluence refuses a second page of that title in the space,
        // so find the first and update it instead.
        if (!(
          err instanceof ExternalServiceError &&
          err.status === 400 &&
          /already exists/i.test(err.message)
        )) {
          throw err;
        }
        const found = await saasJson<{ results: ContentAnswer[] }>(service, {
          method: 'GET',
          url: `${this.#base}/wiki/rest/api/content?spaceKey=${encodeURIComponent(this.#opts.spaceKey)}&title=${encodeURIComponent(input.title)}&expand=version`,
          headers: this.#headers(),
          doing: `find page "${input.title}" in space ${this.#opts.spaceKey}`,
          authHint: AUTH_HINT,
        });
        const first = found.results[0];
        if (!first) throw err;
        pageId = first.id;
      }
    }
    return this.#update(pageId, input.title, body);
  }

  async #create(title: string, body: object): Promise<PublishedPage> {
    const service = { service: 'Confluence', metrics: this.#opts.metrics };
    const created = await saasJson<ContentAnswer>(service, {
      method: 'POST',
      url: `${this.#base}/wiki/rest/api/content`,
      headers: this.#headers(),
      body: {
        type: 'page',
        title,
        space: { key: this.#opts.spaceKey },
        ...(this.#opts.parentId ? { ancestors: [{ id: this.#opts.parentId }] } : {}),
        body,
      },
      doing: `create a page in space ${this.#opts.spaceKey}`,
      authHint: AUTH_HINT,
      notFoundHint: 'check integrations.publish.confluence.spaceKey and parentId',
    });
    return this.#page(created);
  }

  async #update(pageId: string, title: string, body: object): Promise<PublishedPage> {
    const service = { service: 'Confluence', metrics: this.#opts.metrics };
    // An update must carry the next version number: read the current one first.
    const current = await saasJson<ContentAnswer>(service, {
      method: 'GET',
      url: `${this.#base}/wiki/rest/api/content/${encodeURIComponent(pageId)}?expand=version`,
      headers: this.#headers(),
      doing: `read page ${pageId}`,
      authHint: AUTH_HINT,
      notFoundHint: 'the page was deleted or moved out of reach',
    });
    const updated = await saasJson<ContentAnswer>(service, {
      method: 'PUT',
      url: `${this.#base}/wiki/rest/api/content/${encodeURIComponent(pageId)}`,
      headers: this.#headers(),
      body: {
        id: pageId,
        type: 'page',
        title,
        version: {
          number: current.version.number + 1,
          message: 'cloud-safety: regenerated from the timeline',
        },
        body,
      },
      doing: `update page ${pageId}`,
      authHint: AUTH_HINT,
    });
    return this.#page(updated);
  }
}
