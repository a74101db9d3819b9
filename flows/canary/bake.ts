// Step D canary, the bake: its durable timer, the judge at its end, then the next step or done.
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { UsageError } from '../../src/errors.ts';
import { CANARY_COMPLETED, CANARY_PAUSED } from '../../src/events.ts';
import { getBreaker } from '../breaker/index.ts';
import { judgeBake } from './judge.ts';
import { abortCanary, pauseCanary } from './controls.ts';
import {
  type CanaryState,
  STEP_QUEUE,
  canaryActor,
  getCanary,
  refreshCard,
  moveCanary,
  saveCanary,
} from './state.ts';
import { applyStep } from './steps.ts';

/** A bake ended (durable timer): the next step, or done. */
export async function bakeDone(deps: Deps, member: string): Promise<void> {
  const [name = '', canaryId = '', indexText = ''] = member.split('|');
  const index = Number(indexText);
  const state = await getCanary(deps, name);
  if (!state || state.id !== canaryId || state.status !== 'baking' || state.index !== index) return;
  const now = deps.now().getTime();
  const ends = Date.parse(state.bakeEndsAt ?? '');
  if (now < ends) {
    await deps.scheduler.at(STEP_QUEUE, member, ends);
    return;
  }
  const breaker = await getBreaker(deps, name);
  const at = deps.now().toISOString();
  if (breaker?.status !== 'armed' || breaker.armId !== state.armId) {
    // Normally the trip or the disarm already stopped or paused it; this is the safety net.
    await moveCanary(deps, name, {
      at,
      when: (c) => c.id === canaryId && c.status === 'baking',
      to: { status: 'paused', remainingMs: 0, bakeEndsAt: undefined },
      log: `Paused: the breaker is ${breaker?.status ?? 'gone'}`,
      event: {
        kind: CANARY_PAUSED,
        summary: `Canary of ${name} paused at cloud ${state.cloudPercent}%: the breaker is ${breaker?.status ?? 'not armed'}, so no step may raise the cloud share`,
        data: { canary: canaryId, index, remainingMs: 0 },
      },
    });
    return;
  }
  if (await stepJudgedBad(deps, name, state)) return;
  if (index + 1 >= state.steps.length) {
    await moveCanary(deps, name, {
      at,
      when: (c) => c.id === canaryId && c.status === 'baking' && c.index === index,
      to: { status: 'completed', endedAt: at },
      log: `Completed at cloud ${state.cloudPercent}%`,
      event: {
        kind: CANARY_COMPLETED,
        summary: `Canary of ${name} completed: cloud ${state.cloudPercent}% held ${formatDuration(state.bakeMs)} with no breach. The breaker stays armed.`,
        data: { canary: canaryId, cloudPercent: state.cloudPercent },
        stepState: 'done',
      },
    });
    return;
  }
  const moved = await saveCanary(deps, name, (c) =>
    c.id === canaryId && c.status === 'baking' && c.index === index
      ? { ...c, status: 'ramping', index: index + 1, attempt: 1, bakeEndsAt: undefined }
      : undefined,
  );
  if (moved?.status === 'ramping') {
    refreshCard(deps, name);
    await applyStep(deps, name, canaryId, index + 1);
  }
}

/**
 * Cloud against legacy over the bake that just ended (conditions with `compare`): "cloud is worse" aborts the canary
 * back to legacy 100%, "not enough data" pauses it where it is (never moves traffic). True when the step must not go on.
 */
async function stepJudgedBad(deps: Deps, service: string, state: CanaryState): Promise<boolean> {
  const judged = await judgeBake(deps, { ...state, service });
  if (!judged) return false;
  const at = deps.now().toISOString();
  await saveCanary(deps, service, (c) =>
    c.id === state.id
      ? { ...c, log: judged.lines.reduce((log, line) => [...log, { at, text: line }], c.log).slice(-20) }
      : undefined,
  );
  refreshCard(deps, service);
  try {
    if (judged.decision === 'worse') await abortCanary(deps, service, canaryActor(service));
    else if (judged.decision === 'not_enough_data')
      await pauseCanary(deps, service, canaryActor(service), 'not enough data to compare cloud with legacy');
  } catch (err) {
    // Someone paused or aborted it meanwhile: their word stands.
    if (!(err instanceof UsageError)) throw err;
  }
  return judged.decision !== 'same';
}
