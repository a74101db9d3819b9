// The post-mortem's Markdown as simple blocks for the wikis: the subset flows/postmortem/markdown.ts writes.
import type { DocBlock, Span } from '../../src/adapters/pages/types.ts';

/** `code` and **bold**; backslash-escaped pipes are plain pipes. */
export function spans(text: string): Span[] {
  const out: Span[] = [];
  const re = /`([^`]+)`|\*\*([^*]+)\*\*/g;
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    if (m[1] !== undefined) out.push({ text: m[1], code: true });
    else if (m[2] !== undefined) out.push({ text: m[2], bold: true });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out.map((s) => ({ ...s, text: s.text.replace(/\\\|/g, '|') }));
}

function cells(line: string): Span[][] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  return inner.split(/(?<!\\)\|/).map((c) => spans(c.trim()));
}

export function markdownBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length > 0) blocks.push({ type: 'paragraph', spans: spans(paragraph.join(' ')) });
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const heading = /^(#{1,3})\s+(.*)$/.exec(line);
    if (line.startsWith('```')) {
      flush();
      const body: string[] = [];
      for (i++; i < lines.length && !(lines[i] ?? '').startsWith('```'); i++) body.push(lines[i] ?? '');
      blocks.push({ type: 'code', text: body.join('\n') });
    } else if (heading) {
      flush();
      blocks.push({
        type: 'heading',
        level: heading[1]?.length as 1 | 2 | 3,
        spans: spans(heading[2] ?? ''),
      });
    } else if (/^\s*[-*]\s+/.test(line)) {
      flush();
      blocks.push({ type: 'bullet', spans: spans(line.replace(/^\s*[-*]\s+/, '')) });
    } else if (line.startsWith('>')) {
      flush();
      blocks.push({ type: 'quote', spans: spans(line.replace(/^>\s?/, '')) });
    } else if (line.trim().startsWith('|')) {
      flush();
      const rows: Span[][][] = [];
      for (; i < lines.length && (lines[i] ?? '').trim().startsWith('|'); i++) {
        const row = lines[i] ?? '';
        if (/^\s*\|(\s*:?-+:?\s*\|)+\s*$/.test(row)) continue; // the header separator
        rows.push(cells(row));
      }
      i--;
      blocks.push({ type: 'table', rows });
    } else if (line.trim() === '') {
      flush();
    } else {
      paragraph.push(line.trim());
    }
  }
  flush();
  return blocks;
}
