// Step D canary, its state: the stored record of a canary, the schedule's rules and the progress card.
import { splitOf, weightsOf, type TrafficState } from '../../src/adapters/traffic.ts';
import { canaryCard, type CanaryChangeView } from '../breaker/index.ts';
import type { MessageRef } from '../../src/chat/chat.ts';
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { getJson, updateJson } from '../../src/store/store.ts';
import type { Actor } from '../../src/timeline.ts';
import type { RecordInput } from '../incident/index.ts';

export const STEP_QUEUE = 'canary-step';
export const canaryKey = (service: string) => `canary:${service}`;
export const stepLeaseKey = (service: string) => `canary:${service}:step`;
export const STEP_LEASE_MS = 15_000;
export const MAX_ABORT_ATTEMPTS = 3;
export type CanaryStatus =
  'ramping' | 'baking' | 'paused' | 'completed' | 'rolled_back' | 'aborted' | 'failed';
const ACTIVE: readonly CanaryStatus[] = ['ramping', 'baking', 'paused'];

export interface CanaryState {
  /** The approval (action id) that started it. */
  id: string;
  service: string;
  incident: string;
  channel: string;
  steps: number[];
  bakeMs: number;
  /** The breaker arming this canary relies on: if it is no longer armed, the canary cannot go on. */
  armId: string;
  /** The step applied or being applied (0-based). */
  index: number;
  status: CanaryStatus;
  /** Tries of the current step (a paused-before-write step is re-run under a new op id). */
  attempt: number;
  /** The cloud share actually written so far. */
  cloudPercent: number;
  from: { legacy: number; cloud: number };
  bakeEndsAt?: string;
  /** Bake left when paused. */
  remainingMs?: number;
  startedAt: string;
  endedAt?: string;
  requester: Actor;
  approvers: Actor[];
  card?: MessageRef;
  log: { at: string; text: string }[];
}

export interface CanaryChange extends CanaryChangeView {
  service: string;
  steps: number[];
  bakeMs: number;
}

export interface CanaryBasis {
  armId: string;
  layers: { layer: string; fingerprint: string }[];
}

export function canaryActor(service: string): Actor {
  return { type: 'system', id: `canary:${service}`, name: `${service} canary` };
}

export async function getCanary(deps: Pick<Deps, 'store'>, service: string): Promise<CanaryState | null> {
  return getJson<CanaryState>(deps.store, canaryKey(service));
}

export async function saveCanary(
  deps: Deps,
  service: string,
  change: (c: CanaryState) => CanaryState | undefined,
): Promise<CanaryState | null> {
  return updateJson<CanaryState>(deps.store, canaryKey(service), (current) =>
    current ? change(current) : undefined,
  );
}

/**
 * One move of the canary's state machine: `to` (and a log line) is stored only when `when` holds for the stored
 * state; when this call made the move, `event` goes on the incident's timeline (step D, as the canary) and the
 * card is redrawn. A move that lost the race to another one records nothing. Returns the stored state.
 */
export async function moveCanary(
  deps: Deps,
  service: string,
  move: {
    at: string;
    when: (c: CanaryState) => boolean;
    to: Partial<CanaryState> & { status: CanaryState['status'] };
    log: string;
    event: Omit<RecordInput, 'step' | 'actor'>;
  },
): Promise<CanaryState | null> {
  const moved = await saveCanary(deps, service, (c) =>
    move.when(c) ? { ...c, ...move.to, log: addLog(c, move.at, move.log) } : undefined,
  );
  if (moved?.status !== move.to.status) return moved;
  await deps.incidents.record(moved.incident, { step: 'D', actor: canaryActor(service), ...move.event });
  refreshCard(deps, service);
  return moved;
}

export function isActive(c: CanaryState | null): c is CanaryState {
  return c !== null && ACTIVE.includes(c.status);
}

/** The cloud share a person reads off the traffic: the highest of the layers (what the breaker guards). */
export function cloudShareOf(states: TrafficState[]): { legacy: number; cloud: number } {
  let worst = { legacy: 100, cloud: 0 };
  for (const s of states) {
    const split = splitOf(weightsOf(s), s.others);
    if (split.cloud >= worst.cloud) worst = split;
  }
  return worst;
}

/** Why a schedule cannot run (null when it can): steps above the current share, a bake the breaker can judge. */
export function scheduleProblem(
  steps: number[],
  bakeMs: number,
  intervalMs: number,
  currentCloud: number,
): string | null {
  const first = steps[0];
  if (first === undefined) return 'steps= needs at least one step, like steps=1,5,25,50.';
  if (first <= currentCloud) {
    const higher = steps.filter((s) => s > currentCloud);
    return `Cloud already gets ${currentCloud}%, so the first step (${first}%) would not raise it. Start above ${currentCloud}%${higher.length > 0 ? `, e.g. steps=${higher.join(',')}` : ''}.`;
  }
  if (bakeMs < 3 * intervalMs) {
    return `bake=${formatDuration(bakeMs)} is shorter than three breaker intervals (${formatDuration(3 * intervalMs)}): the breaker needs that long to judge a step. Use bake=${formatDuration(3 * intervalMs)} or more.`;
  }
  if (bakeMs > 24 * 3_600_000) return `bake=${formatDuration(bakeMs)} is over 24h; use at most bake=24h.`;
  return null;
}
export function addLog(c: CanaryState, at: string, text: string): CanaryState['log'] {
  return [...c.log, { at, text }].slice(-20);
}

/** Posts the progress card once, then edits it in place (throttled); a card Slack never took is posted later. */
export async function publishCard(deps: Deps, service: string): Promise<void> {
  const state = await getCanary(deps, service);
  if (!state || !state.channel) return;
  const message = canaryCard(state, deps.now());
  try {
    if (state.card) {
      await deps.chat.update(state.card, message);
    } else {
      const card = await deps.chat.post(state.channel, message);
      await saveCanary(deps, service, (c) => (c.id === state.id ? { ...c, card } : undefined));
    }
  } catch (err) {
    deps.log.warn({ err, service, canary: state.id }, 'could not post or edit the canary card');
  }
}

export function refreshCard(deps: Deps, service: string): void {
  deps.throttle.schedule(`canary-card:${service}`, () => publishCard(deps, service));
}

export const stepOpId = (c: Pick<CanaryState, 'id' | 'index' | 'attempt'>) =>
  `${c.id}-step${c.index + 1}${c.attempt > 1 ? `-t${c.attempt}` : ''}`;
