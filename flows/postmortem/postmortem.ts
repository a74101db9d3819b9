// /postmortem: builds the draft from the verified timeline, writes it under the evidence dir, uploads it, records it.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { UploadedFile } from '../../src/chat/chat.ts';
import type { PostmortemCaps } from './caps.ts';
import { POSTMORTEM_GENERATED, type PostmortemEventData } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { renderMarkdown } from './markdown.ts';
import { buildPostmortem, type Postmortem } from './model.ts';
import type { Actor } from '../../src/timeline.ts';

export interface PostmortemResult {
  doc: Postmortem;
  markdown: { text: string; sha256: string; size: number; path?: string; upload?: UploadedFile };
  json: { text: string; sha256: string; size: number; path?: string; upload?: UploadedFile };
  /** Why the files are not under the evidence store, when they are not. */
  notWritten?: string;
  uploadError?: string;
}

function digest(text: string): { sha256: string; size: number } {
  const bytes = Buffer.from(text, 'utf8');
  return { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

/** Builds, writes, uploads and records; regenerating overwrites the files and records a new event. */
export async function generatePostmortem(
  deps: PostmortemCaps,
  incident: Incident,
  actor: Actor,
): Promise<PostmortemResult> {
  const { timeline, chat, redactor, config, log, now } = deps;
  const { events, verification } = await timeline.verify(incident.id, await deps.incidents.anchors(incident));
  let headlinePermalink: string | undefined;
  if (incident.headline) {
    try {
      headlinePermalink = await chat.permalink(incident.headline);
    } catch (err) {
      log.warn({ err, incident: incident.id }, 'no permalink for the headline');
    }
  }
  const doc = buildPostmortem({
    incident,
    events,
    verification,
    generatedAt: now(),
    generatedBy: actor.name,
    ...(headlinePermalink ? { headlinePermalink } : {}),
  });
  // The draft leaves the process (disk, Slack): scrub secrets someone may have pasted into a pinned message.
  const markdownText = redactor.text(renderMarkdown(doc));
  const jsonText = `${JSON.stringify(redactor.value(doc), null, 2)}\n`;
  const result: PostmortemResult = {
    doc,
    markdown: { text: markdownText, ...digest(markdownText) },
    json: { text: jsonText, ...digest(jsonText) },
  };
  const base = `postmortem-${incident.id}`;
  if ('dir' in config.evidence) {
    const dir = resolve(config.evidence.dir, incident.id);
    await mkdir(dir, { recursive: true });
    result.markdown.path = join(dir, `${base}.md`);
    result.json.path = join(dir, `${base}.json`);
    await writeFile(result.markdown.path, markdownText);
    await writeFile(result.json.path, jsonText);
  } else {
    result.notWritten = 'the evidence store is S3 (evidence.s3); this draft is only in Slack';
  }
  try {
    result.markdown.upload = await chat.upload(incident.channel, {
      filename: `${base}.md`,
      title: `Post-mortem draft ${incident.id} (${incident.service})`,
      content: Buffer.from(markdownText, 'utf8'),
      comment: `Post-mortem ${doc.draft ? 'draft (incident still open)' : 'draft'} for ${incident.id}, generated from ${events.length} timeline events (${verification.ok ? 'hash chain verified' : 'hash chain BROKEN'}). Sections marked ✍️ are for people. SHA-256 ${result.markdown.sha256}`,
    });
    result.json.upload = await chat.upload(incident.channel, {
      filename: `${base}.json`,
      title: `Post-mortem ${incident.id} (JSON)`,
      content: Buffer.from(jsonText, 'utf8'),
    });
  } catch (err) {
    result.uploadError = (err as Error).message;
    log.warn({ err, incident: incident.id }, 'post-mortem upload failed');
  }
  const data: PostmortemEventData = {
    markdown: {
      size: result.markdown.size,
      sha256: result.markdown.sha256,
      ...(result.markdown.path ? { path: result.markdown.path } : {}),
      ...(result.markdown.upload?.permalink ? { permalink: result.markdown.upload.permalink } : {}),
    },
    json: {
      size: result.json.size,
      sha256: result.json.sha256,
      ...(result.json.path ? { path: result.json.path } : {}),
      ...(result.json.upload?.permalink ? { permalink: result.json.upload.permalink } : {}),
    },
    events: events.length,
    head: verification.ok ? verification.head : null,
    verified: verification.ok,
    ...(result.uploadError ? { uploadError: result.uploadError } : {}),
  };
  await deps.incidents.record(incident.id, {
    step: null,
    kind: POSTMORTEM_GENERATED,
    actor,
    summary: `${actor.name} generated the post-mortem draft from ${events.length} events (${doc.followUps.length} follow-ups)${result.markdown.path ? `: ${result.markdown.path}` : ''}${result.uploadError ? `; upload failed: ${result.uploadError}` : ''}`,
    data: data as unknown as Record<string, unknown>,
  });
  return result;
}
