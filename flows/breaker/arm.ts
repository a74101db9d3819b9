// Step D breaker, the commands' flows: arm (two people, an approval card), disarm and status.
import { LAYER_NAME, LAYER_ORDER } from '../../src/adapters/traffic.ts';
import type { Action, ActionResult } from '../../src/actions.ts';
import { percent, sameSettings, settingsOf, type BreakerSettings } from './rules.ts';
import { conditionsOf, describeSpec, forStack } from './conditions.ts';
import { armView, breakerStatusMessage, type ArmChangeView } from './blocks.ts';
import type { Message } from '../../src/chat/chat.ts';
import type { Breaker, BreakerQuery } from '../../src/config.ts';
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { UsageError } from '../../src/errors.ts';
import { BREAKER_ARMED, BREAKER_DISARMED } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import type { Actor } from '../../src/timeline.ts';
import type { ActionHandler } from '../approval/index.ts';
import { breakerConfig, EVALUATOR_LEASE, getBreaker, updateBreaker, type BreakerState } from './state.ts';
import { getCanary, pauseCanaryForDisarm } from '../canary/index.ts';
import { trafficOf } from '../contain/index.ts';
import { timelineFor } from './notify.ts';

export const BREAKER_ARM = 'breaker.arm';
/** The change a `breaker.arm` approval is bound to: what is watched, the limits, and the one pre-authorised shift. */
export interface ArmChange extends ArmChangeView {
  service: string;
  settings: BreakerSettings;
}

export interface ArmBasis {
  /** The breaker's version when the request was made (0: never armed). */
  version: number;
  status: BreakerState['status'] | 'never';
}

function sourceText(cfg: Breaker): string {
  return 'prometheus' in cfg.source
    ? `Prometheus ${cfg.source.prometheus}`
    : `CloudWatch GetMetricData${cfg.source.cloudwatch.region ? ` (${cfg.source.cloudwatch.region})` : ''}`;
}

function queryLabel(q: BreakerQuery | number | undefined): string | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return `${q} requests/s (in {minRps})`;
  return typeof q === 'string' ? q : q.expression;
}

/** Throws a usage error when the metrics source of the service's breaker is not wired. */
export function requireSource(deps: Deps, cfg: Breaker, service: string, usage?: string): void {
  if ('prometheus' in cfg.source && !deps.adapters.prometheus) {
    throw new UsageError(`${service}'s breaker reads Prometheus, but no Prometheus client is set up.`, usage);
  }
  if ('cloudwatch' in cfg.source && !deps.adapters.cloudwatch) {
    throw new UsageError(`${service}'s breaker reads CloudWatch, but no CloudWatch client is set up.`, usage);
  }
}

/** /breaker arm after parsing: checks, then posts the approval card. */
export async function requestArm(
  deps: Deps,
  req: { incident: Incident; service: string; requester: Actor; usage?: string },
): Promise<Action<ArmChange>> {
  const cfg = breakerConfig(deps, req.service, req.usage);
  const traffic = trafficOf(deps, req.service, req.usage);
  requireSource(deps, cfg, req.service, req.usage);
  const state = await getBreaker(deps, req.service);
  if (state?.status === 'armed') {
    throw new UsageError(
      `${req.service}'s breaker is already armed (by ${state.armedBy?.name ?? '?'} at ${state.armedAt ?? '?'}, request ${state.armId ?? '?'}). /breaker status shows what it sees; /breaker disarm first to arm it with new settings.`,
      req.usage,
    );
  }
  if (state?.status === 'tripped' && state.trip && state.trip.phase !== 'done') {
    throw new UsageError(
      `${req.service}'s breaker tripped at ${state.trip.at} and its shift is still being carried out; wait for it (/breaker status), then arm again.`,
      req.usage,
    );
  }
  const layers = LAYER_ORDER.filter((l) => traffic[l]);
  const settings = settingsOf(cfg);
  const change: ArmChange = {
    service: req.service,
    settings,
    source: sourceText(cfg),
    queries: {
      ...(cfg.memory !== undefined ? { memory: queryLabel(cfg.memory) ?? '' } : {}),
      ...(cfg.errors !== undefined ? { errors: queryLabel(cfg.errors) ?? '' } : {}),
      ...(cfg.minRps !== undefined ? { minRps: queryLabel(cfg.minRps) ?? '' } : {}),
    },
    conditions: conditionsOf(cfg)
      .filter((c) => Object.hasOwn(cfg.conditions, c.name))
      .map((c) => ({
        name: c.name,
        trips: describeSpec(c),
        query: queryLabel(forStack(c.query, 'cloud', cfg)) ?? '',
        ...(c.guard !== undefined ? { guard: queryLabel(forStack(c.guard, 'cloud', cfg)) ?? '' } : {}),
      })),
    preauthorised: {
      legacyPercent: 100,
      layers: layers.map((l) => LAYER_NAME[l]),
      text: `Shift ${req.service} to legacy 100% (${layers.map((l) => LAYER_NAME[l]).join(' then ')}), once, when it trips`,
    },
    ...(state?.status === 'tripped' ? { rearm: `re-arms after the trip at ${state.trip?.at ?? '?'}` } : {}),
  };
  const basis: ArmBasis = { version: state?.version ?? 0, status: state?.status ?? 'never' };
  return deps.approvals.request<ArmChange>({
    kind: BREAKER_ARM,
    incident: req.incident,
    step: 'D',
    summary: `Arm ${req.service}'s circuit breaker (trips to legacy 100% with no human)`,
    basis,
    change,
    requester: req.requester,
  });
}

export function armHandler(deps: Deps): ActionHandler<ArmChange> {
  return {
    kind: BREAKER_ARM,
    describe: (action) => armView(action.change),
    async execute(action, ctx): Promise<ActionResult> {
      const { service } = action.change;
      const basis = action.basis as ArmBasis;
      const cfg = deps.config.services[service]?.breaker;
      if (!cfg || !sameSettings(settingsOf(cfg), action.change.settings)) {
        return {
          ok: false,
          summary: `The breaker settings in cloud-safety.yml changed since the request; nothing was armed. Run /breaker arm again to approve the new ones.`,
        };
      }
      const incident = await deps.incidents.get(action.incident);
      let refusal: string | undefined;
      const armedAt = deps.now().toISOString();
      await updateBreaker(deps, service, (current) => {
        refusal = undefined;
        const version = current?.version ?? 0;
        if (version !== basis.version) {
          refusal = `the breaker changed since the request (now ${current?.status ?? 'never armed'}${current?.armedBy ? ` by ${current.armedBy.name}` : ''}); nothing was armed. Run /breaker status, then /breaker arm again if still needed.`;
          return undefined;
        }
        return {
          service,
          status: 'armed',
          version: version + 1,
          armId: action.id,
          armedAt,
          armedBy: action.requester,
          approvedBy: ctx.approvers,
          incident: action.incident,
          ...(incident ? { channel: incident.channel } : {}),
          settings: action.change.settings,
          counters: { breaches: 0, inconclusive: 0, alerted: false },
          nextEvalAt: deps.now().getTime(),
          evaluations: 0,
          last: [],
        };
      });
      if (refusal) return { ok: false, summary: refusal };
      const s = action.change.settings;
      await deps.incidents.record(action.incident, {
        step: 'D',
        kind: BREAKER_ARMED,
        actor: action.requester,
        summary: `${service}'s breaker armed by ${action.requester.name}, approved by ${ctx.approvers.map((a) => a.name).join(', ') || '?'}: trips after ${s.failureLimit} breaches of memory > ${percent(s.thresholds.memory)} or 5xx > ${percent(s.thresholds.errors)}, every ${formatDuration(s.intervalMs)}`,
        data: {
          action: action.id,
          settings: { ...s },
          armedBy: action.requester,
          approvedBy: ctx.approvers,
        },
      });
      return {
        ok: true,
        summary: `Armed. The breaker evaluates every ${formatDuration(s.intervalMs)} and, after ${s.failureLimit} breaches in a row, shifts ${service} to legacy 100% with no human. /breaker status shows what it sees.`,
        data: { armed: true },
      };
    },
    async recheck(action) {
      const state = await getBreaker(deps, action.change.service);
      return state?.armId === action.id
        ? { ok: true, summary: `the breaker is ${state.status} under this request.` }
        : {
            ok: false,
            summary: 'the breaker was not armed by this request; run /breaker arm again if needed.',
          };
    },
  };
}

/** /breaker disarm: stops evaluating (and clears a tripped latch). Any responder may do it; it is recorded. */
export async function disarm(
  deps: Deps,
  req: { service: string; actor: Actor; incident: Incident | null; usage?: string },
): Promise<string> {
  breakerConfig(deps, req.service, req.usage);
  let previous: BreakerState | null = null;
  const at = deps.now().toISOString();
  const next = await updateBreaker(deps, req.service, (current) => {
    previous = current;
    if (!current || current.status === 'disarmed') return undefined;
    return { ...current, status: 'disarmed', version: current.version + 1, disarmed: { at, by: req.actor } };
  });
  const before = previous as BreakerState | null;
  if (!before || before.status === 'disarmed' || !next) {
    throw new UsageError(`${req.service}'s breaker is not armed; nothing to disarm.`, req.usage);
  }
  const incidentId =
    req.incident?.service === req.service
      ? req.incident.id
      : (await timelineFor(deps, req.service, next)).incidentId;
  const canary = await pauseCanaryForDisarm(deps, req.service, req.actor);
  if (incidentId) {
    await deps.incidents.record(incidentId, {
      step: 'D',
      kind: BREAKER_DISARMED,
      actor: req.actor,
      summary: `${req.actor.name} disarmed ${req.service}'s breaker (was ${before.status}${before.status === 'tripped' ? ', latch cleared' : ''})${canary ? `; ${canary}` : ''}`,
      data: { by: req.actor, previous: before.status, ...(before.armId ? { action: before.armId } : {}) },
    });
  }
  return `${req.service}'s breaker is disarmed: nothing watches the cloud stack now${before.status === 'tripped' ? ' (the trip latch is cleared; traffic stays where it is)' : ''}.${canary ? ` ${canary}.` : ''} Arm it again with /breaker arm (two-person approval).`;
}

/** /breaker status: state, who armed it, the last evaluations with values, the evaluator holding the lease. */
export async function breakerStatus(deps: Deps, service: string, usage?: string): Promise<Message> {
  const cfg = breakerConfig(deps, service, usage);
  const state = await getBreaker(deps, service);
  const leader = await deps.store.get(EVALUATOR_LEASE);
  const canary = await getCanary(deps, service);
  return breakerStatusMessage({
    service,
    state,
    configured: settingsOf(cfg),
    source: sourceText(cfg),
    leader,
    now: deps.now(),
    ...(canary ? { canary } : {}),
  });
}
