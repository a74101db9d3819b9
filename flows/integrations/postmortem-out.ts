// Follow-ups and the post-mortem out: after /postmortem, file each follow-up once per tracker and publish the page.
// Runs after the post-mortem is recorded, never in its way: an outage is reported on the timeline and retried.
import { createHash } from 'node:crypto';
import { buildPostmortem, renderMarkdown, type FollowUp } from '../postmortem/index.ts';
import type { PageTarget, PublishedPage } from '../../src/adapters/pages/types.ts';
import type { FiledIssue, IssueTracker } from '../../src/adapters/trackers/types.ts';
import type { Deps } from '../../src/deps.ts';
import {
  FOLLOWUPS_FILED,
  POSTMORTEM_GENERATED,
  POSTMORTEM_OUT_FAILED,
  POSTMORTEM_PUBLISHED,
} from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { takeLease, type Lease } from '../../src/lease.ts';
import { getJson, updateJson } from '../../src/store/store.ts';
import { SYSTEM } from '../../src/timeline.ts';
import { markdownBlocks } from './doc-blocks.ts';

const QUEUE = 'postmortem-out';
const stateKey = (incident: string) => `postmortem-out:${incident}`;
const lockKey = (incident: string) => `postmortem-out:lock:${incident}`;
const LOCK_MS = 120_000;

export interface OutOptions {
  retryBaseMs: number;
  retryMaxMs: number;
  attempts: number;
}

export const DEFAULT_OUT_OPTIONS: OutOptions = { retryBaseMs: 30_000, retryMaxMs: 30 * 60_000, attempts: 10 };

/** Durable per-incident record of what went out, so a re-run files nothing twice and updates the same page. */
export interface OutState {
  /** `<tracker>:<follow-up key>` → the issue; `attempted` until the create is known to have answered. */
  issues: Record<string, { title: string; attempted?: boolean; issue?: FiledIssue }>;
  pages: Record<string, PublishedPage>;
  /** Failed passes in a row; reset by a pass that finishes. */
  failures: number;
}

/** A follow-up's identity: its title, which the post-mortem derives from the timeline the same way each time. */
export function followUpKey(followUp: Pick<FollowUp, 'title'>): string {
  return createHash('sha256').update(followUp.title).digest('hex').slice(0, 12);
}

export function markerFor(incident: string, key: string): string {
  return `cloud-safety-${incident}-${key}`;
}

function issueBody(incident: Incident, f: FollowUp): string {
  const when = f.from.length > 0 ? `\n\nFrom the events at ${f.from.join(', ')} (UTC).` : '';
  return `${f.why}${when}\n\nA follow-up from the post-mortem of ${incident.id} (${incident.service}, ${incident.severity}): ${incident.title}`;
}

export class PostmortemOut {
  #deps: Deps;
  #trackers: IssueTracker[];
  #pages: PageTarget[];
  #opts: OutOptions;

  constructor(deps: Deps, options: Partial<OutOptions> = {}) {
    this.#deps = deps;
    this.#trackers = deps.adapters.trackers ?? [];
    this.#pages = deps.adapters.pages ?? [];
    this.#opts = { ...DEFAULT_OUT_OPTIONS, ...options };
    if (!this.enabled) return;
    deps.timeline.onAppend((event) => {
      if (event.kind !== POSTMORTEM_GENERATED) return;
      deps.tasks.run(`postmortem-out:${event.incident}`, () => this.run(event.incident));
    });
    deps.scheduler.handle(QUEUE, (incident) => this.run(incident));
  }

  get enabled(): boolean {
    return this.#trackers.length + this.#pages.length > 0;
  }

  state(incident: string): Promise<OutState | null> {
    return getJson<OutState>(this.#deps.store, stateKey(incident));
  }

  async #save(incident: string, change: (s: OutState) => OutState): Promise<OutState> {
    const next = await updateJson<OutState>(this.#deps.store, stateKey(incident), (current) =>
      change(current ?? { issues: {}, pages: {}, failures: 0 }),
    );
    return next ?? { issues: {}, pages: {}, failures: 0 };
  }

  /** One pass: everything not yet out goes out; a failure schedules the next pass with back-off. */
  async run(incidentId: string): Promise<void> {
    const { store, instanceId, log } = this.#deps;
    // One pass per incident at a time, across replicas: two concurrent passes would both file.
    const lease = await takeLease(store, lockKey(incidentId), {
      owner: instanceId,
      ttlMs: LOCK_MS,
      onLost: (reason) => log.warn({ incident: incidentId, reason }, 'post-mortem out lost its lease'),
    });
    if (!lease) {
      await this.#deps.scheduler.at(QUEUE, incidentId, this.#deps.now().getTime() + 5000);
      return;
    }
    try {
      await this.#pass(incidentId, lease);
    } catch (err) {
      log.warn({ err, incident: incidentId }, 'post-mortem out pass failed');
    } finally {
      await lease.release();
    }
  }

  async #pass(incidentId: string, lease: Lease): Promise<void> {
    const { incidents, timeline, chat, redactor, log, now } = this.#deps;
    const incident = await incidents.get(incidentId);
    if (!incident) return;
    const { events, verification } = await timeline.verify(incidentId);
    let link: string | undefined;
    if (incident.headline) {
      link = await chat.permalink(incident.headline).catch(() => undefined);
    }
    const publicUrl = this.#deps.config.integrations?.publicUrl;
    if (!link && publicUrl) link = `${publicUrl.replace(/\/+$/, '')}/api/v1/incidents/${incidentId}`;
    const doc = buildPostmortem({
      incident,
      events,
      verification,
      generatedAt: now(),
      generatedBy: 'cloud-safety',
    });
    const filed: FiledIssue[] = [];
    const published: PublishedPage[] = [];
    const failures: string[] = [];

    for (const tracker of this.#trackers) {
      for (const f of doc.followUps) {
        const key = followUpKey(f);
        const slot = `${tracker.name}:${key}`;
        const marker = markerFor(incidentId, key);
        const known = (await this.state(incidentId))?.issues[slot];
        if (known?.issue) continue;
        lease.check(); // a replica that lost the lease files nothing more: the holder's pass does
        try {
          // A create that was sent but never answered may have got through: look for it before sending again.
          let issue = known?.attempted ? await tracker.find(marker) : undefined;
          if (!issue) {
            await this.#save(incidentId, (s) => ({
              ...s,
              issues: { ...s.issues, [slot]: { title: f.title, attempted: true } },
            }));
            issue = await tracker.create({
              title: redactor.text(f.title),
              body: redactor.text(issueBody(incident, f)),
              marker,
              ...(link ? { link } : {}),
            });
          }
          const done = issue;
          await this.#save(incidentId, (s) => ({
            ...s,
            issues: { ...s.issues, [slot]: { title: f.title, issue: done } },
          }));
          filed.push(done);
        } catch (err) {
          failures.push((err as Error).message);
          break; // the next follow-up would meet the same outage; the retry takes them all up
        }
      }
    }

    if (this.#pages.length > 0) {
      const markdown = redactor.text(renderMarkdown(doc));
      const blocks = markdownBlocks(markdown);
      const title = `Post-mortem ${incident.id}: ${incident.title} (${incident.service})`.slice(0, 250);
      for (const target of this.#pages) {
        const before = (await this.state(incidentId))?.pages[target.name];
        lease.check();
        try {
          const page = await target.publish({ title, blocks, ...(before ? { pageId: before.id } : {}) });
          await this.#save(incidentId, (s) => ({ ...s, pages: { ...s.pages, [target.name]: page } }));
          published.push(page);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    }

    if (filed.length > 0) {
      await incidents.record(incidentId, {
        step: null,
        kind: FOLLOWUPS_FILED,
        actor: SYSTEM,
        summary: `Filed ${filed.length} follow-up${filed.length === 1 ? '' : 's'}: ${filed.map((i) => `${i.key} ${i.url}`).join(', ')}`,
        data: { issues: filed },
      });
    }
    for (const page of published) {
      await incidents.record(incidentId, {
        step: null,
        kind: POSTMORTEM_PUBLISHED,
        actor: SYSTEM,
        summary: `Post-mortem published to ${page.target}${page.version ? ` (version ${page.version})` : ''}: ${page.url}`,
        data: { ...page },
      });
    }
    const lines = [
      ...filed.map((i) => `• ${i.tracker} ${i.key}: ${i.url}`),
      ...published.map((p) => `• ${p.target} page: ${p.url}`),
    ];
    if (lines.length > 0) {
      await chat
        .post(incident.channel, { text: `Post-mortem ${incidentId} is out:\n${lines.join('\n')}` })
        .catch((err: unknown) => log.warn({ err, incident: incidentId }, 'could not post the links'));
    }

    if (failures.length === 0) {
      await this.#save(incidentId, (s) => ({ ...s, failures: 0 }));
      return;
    }
    const state = await this.#save(incidentId, (s) => ({ ...s, failures: s.failures + 1 }));
    const giveUp = state.failures >= this.#opts.attempts;
    const delay = Math.min(this.#opts.retryMaxMs, this.#opts.retryBaseMs * 2 ** (state.failures - 1));
    if (state.failures === 1 || giveUp) {
      await incidents.record(incidentId, {
        step: null,
        kind: POSTMORTEM_OUT_FAILED,
        actor: SYSTEM,
        summary: `${giveUp ? `Gave up after ${state.failures} tries` : `Retrying in ${Math.round(delay / 1000)} s`}: ${failures.join(' | ')}`,
        data: { failures, attempts: state.failures, giveUp },
      });
    }
    if (!giveUp) await this.#deps.scheduler.at(QUEUE, incidentId, now().getTime() + delay);
  }
}
