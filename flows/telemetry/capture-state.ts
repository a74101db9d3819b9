// Step L evidence capture, shared: the request, the run's state and items, the capture card and chain of custody.
import type { TelemetryCaps } from './caps.ts';
import { Writable } from 'node:stream';
import type { EvidenceStore } from '../../src/adapters/evidence/store.ts';
import { type Kubernetes } from '../../src/adapters/kubernetes/types.ts';
import type { MessageRef } from '../../src/chat/chat.ts';
import { captureMessage, type CaptureItemView, type CaptureView } from './blocks.ts';
import type { KubernetesSection } from '../../src/config.ts';
import type { Incident } from '../../src/incident.ts';
import { profileFor, type ProfileStep } from './profiles.ts';
import type { Actor } from '../../src/timeline.ts';
import { type PodEvent, type PodRow } from '../../src/workload.ts';

export interface CaptureRequest {
  incident: Incident;
  service: string;
  cfg: KubernetesSection;
  cluster: Kubernetes;
  evidence: EvidenceStore;
  targets: PodRow[];
  actor: Actor;
  /** Pod status, events and previous logs. */
  basics: boolean;
  /** The runtime profile's dumps. */
  dumps: boolean;
  /** Warning events from the snapshot, kept with each pod's status. */
  events?: PodEvent[];
  /** Take the dumps from this ephemeral container; files are reached through /proc/<pid>/root. */
  debugContainer?: string;
  /** Shown on the card (e.g. "dumps follow once the quarantine is approved"). */
  note?: string;
}

export interface CaptureSummary {
  id: string;
  kept: number;
  failed: number;
  skipped: number;
  message?: MessageRef;
}

export interface Item extends CaptureItemView {
  id: string;
}

/** Thrown inside a dump to stop this pod's remaining steps. */
export class PodGone extends Error {}

export /** One capture's state, shared by the basics, the dumps and the card. */
interface CaptureState {
  deps: TelemetryCaps;
  req: CaptureRequest;
  id: string;
  items: Item[];
  offers: CaptureView['offers'];
  message: MessageRef | undefined;
  finished: CaptureView['finished'];
  execForbidden: string | undefined;
  gone: Map<string, string>;
}

export const NODE_LEASE_MS = 60_000;
export const NODE_WAIT_POLL_MS = 2000;

export function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

/** The first meaningful line of command output (jcmd starts with a "<pid>:" line). */
export function firstLine(text: string, max = 200): string {
  const line =
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.length > 0 && !/^\d+:$/.test(l)) ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Keeps the first `limit` bytes written to it (command output for messages), counts the rest. */
export function boundedCollector(limit = 16 * 1024): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (size < limit) chunks.push(chunk.subarray(0, limit - size));
      size += chunk.length;
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export function stepsOf(cr: CaptureState): ProfileStep[] {
  return profileFor(cr.req.cfg.runtime, cr.req.cfg.profiles);
}

export function viewOf(cr: CaptureState): CaptureView {
  return {
    incident: cr.req.incident.id,
    service: cr.req.service,
    location: cr.req.evidence.location,
    items: cr.items,
    offers: cr.offers,
    ...(cr.finished ? { finished: cr.finished } : {}),
    ...(cr.req.note ? { note: cr.req.note } : {}),
  };
}

export function refreshCard(cr: CaptureState): void {
  const ref = cr.message;
  if (!ref) return;
  cr.deps.throttle.schedule(`capture:${cr.id}`, async () => {
    try {
      await cr.deps.chat.update(ref, captureMessage(viewOf(cr)));
    } catch (err) {
      cr.deps.log.warn({ err, capture: cr.id }, 'could not update the capture card');
    }
  });
}

export function addItem(cr: CaptureState, pod: string, kind: string): Item {
  const item: Item = { id: `${pod}/${kind}`, pod, kind, state: 'waiting' };
  cr.items.push(item);
  return item;
}

export function setItem(cr: CaptureState, item: Item, patch: Partial<CaptureItemView>): void {
  Object.assign(item, patch);
  refreshCard(cr);
}

export function containerOf(cr: CaptureState): string {
  return cr.req.debugContainer ?? cr.req.cfg.container;
}

export function custodyOf(
  cr: CaptureState,
  pod: PodRow,
  kind: string,
  command: string[] | undefined,
  startedAt: Date,
) {
  return {
    incident: cr.req.incident.id,
    service: cr.req.service,
    kind,
    pod: pod.name,
    podUid: pod.uid,
    namespace: cr.req.cfg.namespace,
    container: containerOf(cr),
    ...(pod.node ? { node: pod.node } : {}),
    ...(pod.imageDigest ? { imageDigest: pod.imageDigest } : {}),
    ...(command ? { command } : {}),
    startedAt: startedAt.toISOString(),
    requestedBy: `${cr.req.actor.name} (${cr.req.actor.id})`,
  };
}

export function itemFor(cr: CaptureState, pod: string, kind: string): Item {
  const item = cr.items.find((i) => i.pod === pod && i.kind === kind && i.state === 'waiting');
  return item ?? addItem(cr, pod, kind);
}
