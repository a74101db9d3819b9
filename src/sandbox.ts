// The sandbox of an incident (pure): its record, workspace name, inputs read off the timeline, progress and backoff.
import type { MessageRef } from './incident.ts';
import { EVIDENCE_CAPTURED, WORKLOAD_SNAPSHOT } from './events.ts';
import type { Actor, TimelineEvent } from './timeline.ts';

export type SandboxState = 'creating' | 'up' | 'failed' | 'destroying' | 'destroyed' | 'destroy_failed';

/** An output as we keep and show it: sensitive values are never stored, only their names. */
export interface SandboxOutput {
  name: string;
  sensitive: boolean;
  /** The value as text (JSON for non-strings); absent when sensitive. */
  value?: string;
}

export interface LoadSummary {
  ok: boolean;
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  lines: number;
  tail: string[];
  error?: string;
}

export interface SandboxRecord {
  incident: string;
  service: string;
  channel: string;
  workspace: string;
  dir: string;
  state: SandboxState;
  requestedBy: Actor;
  requestedAt: string;
  expiresAt: string;
  readyAt?: string;
  destroyedAt?: string;
  /** Why the last teardown started: someone ran `/sandbox down`, or the TTL ran out. */
  teardownReason?: 'command' | 'ttl';
  image?: string;
  evidence: string[];
  /** The card in the channel; progress and results go to its thread. */
  card?: MessageRef;
  /** Counts of the last run; `inState`: what Terraform's state held after it (what exists). */
  resources: { planned: number; done: number; failed: number; inState?: number };
  outputs: SandboxOutput[];
  /** Terraform's error lines from the last failed run. */
  errors: string[];
  /** True once a run got as far as the workspace: a teardown must run Terraform (false: nothing to destroy). */
  workspaceCreated: boolean;
  destroyAttempts: number;
  nextRetryAt?: string;
  /** Set when an apply was found abandoned by a bot that died while Terraform ran. */
  interruptedAt?: string;
  /** After a failed teardown: resource instances Terraform's state still holds, when known. */
  remaining?: number;
  load?: LoadSummary & { state: 'running' | 'done' };
}

/** `inc-` + 7 for INC-7: one workspace per incident. */
export function workspaceName(prefix: string, incidentId: string): string {
  const number = /^INC-(\d+)$/i.exec(incidentId)?.[1];
  return `${prefix}${number ?? incidentId.toLowerCase().replace(/[^a-z0-9_-]/g, '-')}`;
}

const IMAGE = /^[\w.:/@+-]{3,300}$/;

function imageOf(value: unknown): string | undefined {
  return typeof value === 'string' && IMAGE.test(value) ? value : undefined;
}

/**
 * The running image digest from a telemetry snapshot's data. Read defensively: the snapshot may carry it at the
 * top (`imageDigest`), per pod (`pods[].imageDigest`) or per container (`pods[].containers[].imageDigest`);
 * when pods disagree the most common digest wins (the failing rollout is the majority).
 */
export function imageFromSnapshot(data: Record<string, unknown>): string | undefined {
  const top = imageOf(data.imageDigest) ?? imageOf(data.image);
  if (top) return top;
  const counts = new Map<string, number>();
  const pods = Array.isArray(data.pods) ? (data.pods as unknown[]) : [];
  for (const pod of pods) {
    if (pod === null || typeof pod !== 'object') continue;
    const p = pod as Record<string, unknown>;
    const found: string[] = [];
    const own = imageOf(p.imageDigest);
    if (own) found.push(own);
    if (Array.isArray(p.containers)) {
      for (const c of p.containers as unknown[]) {
        if (c !== null && typeof c === 'object') {
          const digest = imageOf((c as Record<string, unknown>).imageDigest);
          if (digest) found.push(digest);
        }
      }
    }
    for (const digest of new Set(found)) counts.set(digest, (counts.get(digest) ?? 0) + 1);
  }
  let best: string | undefined;
  for (const [digest, count] of counts)
    if (best === undefined || count > (counts.get(best) ?? 0)) best = digest;
  return best;
}

/** What the sandbox is built from: the image of the latest snapshot and every captured artifact's URI. */
export function sandboxInputs(events: TimelineEvent[]): { image?: string; evidence: string[] } {
  let image: string | undefined;
  const evidence: string[] = [];
  for (const event of events) {
    if (event.kind === WORKLOAD_SNAPSHOT) image = imageFromSnapshot(event.data) ?? image;
    if (event.kind === EVIDENCE_CAPTURED && typeof event.data.uri === 'string') {
      if (!evidence.includes(event.data.uri)) evidence.push(event.data.uri);
    }
  }
  return { ...(image ? { image } : {}), evidence };
}

/** Wait before teardown retry `attempt` (1-based): base, 2x, 4x... capped at 30 minutes. */
export function retryDelayMs(baseMs: number, attempt: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), 30 * 60_000);
}

/** Escalate to the channel on the first failure and then every fourth, so it is never forgotten nor spammy. */
export function shouldEscalate(attempt: number): boolean {
  return attempt === 1 || attempt % 4 === 0;
}

// ---- progress of one Terraform run, as shown in the thread -------------------------------------------------

export type ProgressEvent =
  | { type: 'planned'; address: string; action: string }
  | { type: 'plan'; add: number; change: number; remove: number }
  | { type: 'start'; address: string; action: string }
  | { type: 'still'; address: string; action: string; elapsedSeconds: number }
  | { type: 'complete'; address: string; action: string; elapsedSeconds: number }
  | { type: 'errored'; address: string; action: string; elapsedSeconds: number }
  | { type: 'summary'; operation: string; add: number; change: number; remove: number }
  | { type: 'diagnostic'; severity: 'error' | 'warning'; text: string }
  | { type: 'stage'; text: string };

type LineState = 'planned' | 'running' | 'done' | 'failed';

export interface Progress {
  operation: 'apply' | 'destroy';
  stage: string;
  planned: number;
  done: number;
  failed: number;
  resources: { address: string; action: string; state: LineState; elapsedSeconds?: number }[];
  notes: string[];
  summary?: string;
}

export function newProgress(operation: 'apply' | 'destroy'): Progress {
  return { operation, stage: 'init', planned: 0, done: 0, failed: 0, resources: [], notes: [] };
}

/** Folds one event into the progress (returns a new object). */
export function applyProgress(progress: Progress, event: ProgressEvent): Progress {
  const next: Progress = { ...progress, resources: [...progress.resources], notes: [...progress.notes] };
  const upsert = (address: string, action: string, state: LineState, elapsedSeconds?: number) => {
    const i = next.resources.findIndex((r) => r.address === address);
    const line = { address, action, state, ...(elapsedSeconds !== undefined ? { elapsedSeconds } : {}) };
    if (i >= 0) next.resources[i] = line;
    else next.resources.push(line);
  };
  switch (event.type) {
    case 'stage':
      next.stage = event.text;
      break;
    case 'planned':
      if (event.action !== 'noop' && event.action !== 'read') upsert(event.address, event.action, 'planned');
      break;
    case 'plan':
      next.planned = event.add + event.change + event.remove;
      break;
    case 'start':
      upsert(event.address, event.action, 'running');
      break;
    case 'still':
      upsert(event.address, event.action, 'running', event.elapsedSeconds);
      break;
    case 'complete':
      upsert(event.address, event.action, 'done', event.elapsedSeconds);
      next.done += 1;
      break;
    case 'errored':
      upsert(event.address, event.action, 'failed', event.elapsedSeconds);
      next.failed += 1;
      break;
    case 'summary':
      next.summary = `${event.add} added, ${event.change} changed, ${event.remove} destroyed`;
      break;
    case 'diagnostic':
      next.notes.push(`${event.severity === 'error' ? 'Error' : 'Warning'}: ${event.text}`);
      break;
  }
  if (next.planned < next.resources.length) next.planned = next.resources.length;
  return next;
}
