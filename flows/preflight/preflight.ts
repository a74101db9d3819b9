// /preflight: the pre-migration checklist (records, TTL, health checks, CDC, breaker, a second approver), with fixes.
import {
  LAYER_NAME,
  LAYER_ORDER,
  type LayerCheck,
  type TrafficLayer,
  type TrafficState,
} from '../../src/adapters/traffic.ts';
import { describeSpec, getBreaker, percent, sameSettings, settingsOf } from '../breaker/index.ts';
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { PREFLIGHT_CHECKED, type PreflightEventData } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import type { Actor } from '../../src/timeline.ts';
import { metricsCheck } from './metrics.ts';
import { policiesCheck } from './policy-checks.ts';
import {
  healthCheckCheck,
  layerChecks,
  legacyHealthCheck,
  recordsCheck,
  ttlCheck,
} from './traffic-checks.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface PreflightCheck {
  id:
    | 'records'
    | 'ttl'
    | 'health-check'
    | 'legacy-healthy'
    | 'cdc'
    | 'breaker'
    | 'metrics'
    | 'approver'
    | 'policies'
    | LayerCheck['id'];
  title: string;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

export interface PreflightReport {
  service: string;
  at: string;
  verdict: 'ready' | 'warnings' | 'not_ready';
  checks: PreflightCheck[];
  /** The traffic as read (for /canary start to plan from). */
  states?: TrafficState[];
}

function verdictOf(checks: PreflightCheck[]): PreflightReport['verdict'] {
  if (checks.some((c) => c.status === 'fail')) return 'not_ready';
  if (checks.some((c) => c.status === 'warn')) return 'warnings';
  return 'ready';
}

async function cdcCheck(deps: Deps, service: string): Promise<PreflightCheck> {
  const title = 'CDC sync running, lag within bounds';
  const cfg = deps.config.services[service]?.ledger;
  if (!cfg) {
    return {
      id: 'cdc',
      title,
      status: 'warn',
      detail: 'no ledger section: the CDC sync between legacy and cloud databases is not checked',
      fix: `Add services.${service}.ledger with cdc (docs/ledger.md) so preflight sees whether writes still reach both sides.`,
    };
  }
  if (!cfg.cdc) {
    return {
      id: 'cdc',
      title,
      status: 'warn',
      detail: 'the ledger has no cdc section: sync health is not checked',
      fix: `Add services.${service}.ledger.cdc (pg-subscription, pg-slot or debezium; see docs/ledger.md).`,
    };
  }
  let ledger: ReturnType<NonNullable<Deps['adapters']['ledger']>['get']>;
  try {
    ledger = deps.adapters.ledger?.get(service);
  } catch (err) {
    // A connection string the config names is missing: one failed check, not a failed preflight.
    return {
      id: 'cdc',
      title,
      status: 'fail',
      detail: (err as Error).message,
      fix: 'Set it in the bot environment and restart.',
    };
  }
  if (!ledger) {
    return {
      id: 'cdc',
      title,
      status: 'fail',
      detail: 'the ledger adapter is not set up (database URLs missing?)',
      fix: 'Set the ledger connection environment variables named in the config and restart.',
    };
  }
  const health = await ledger.cdcHealth();
  if (!health) return { id: 'cdc', title, status: 'warn', detail: 'no CDC configured' };
  return health.healthy
    ? { id: 'cdc', title, status: 'pass', detail: health.detail }
    : {
        id: 'cdc',
        title,
        status: 'fail',
        detail: health.detail,
        fix: 'Repair the sync before migrating (restart the subscription or connector, free the slot); otherwise a rollback leaves the ledgers apart. /ledger audit shows the damage.',
      };
}

async function breakerCheck(deps: Deps, service: string): Promise<PreflightCheck> {
  const title = 'Breaker armed';
  const cfg = deps.config.services[service]?.breaker;
  if (!cfg) {
    return {
      id: 'breaker',
      title,
      status: 'fail',
      detail: 'no breaker configured',
      fix: `Add services.${service}.breaker (docs/breaker.md), then /breaker arm ${service}.`,
    };
  }
  const state = await getBreaker(deps, service);
  if (state?.status === 'armed') {
    const s = state.settings;
    const drift = s && !sameSettings(s, settingsOf(cfg));
    return {
      id: 'breaker',
      title,
      status: drift ? 'warn' : 'pass',
      detail: `armed by ${state.armedBy?.name ?? '?'} (approved by ${state.approvedBy?.map((a) => a.name).join(', ') || '?'}) at ${state.armedAt ?? '?'}${s ? `; trips after ${s.failureLimit} × ${formatDuration(s.intervalMs)} above ${s.conditions ? s.conditions.map(describeSpec).join(' or ') : `memory ${percent(s.thresholds.memory)} or 5xx ${percent(s.thresholds.errors)}`}` : ''}${drift ? '; the config changed since it was armed' : ''}`,
      ...(drift
        ? {
            fix: `It runs with the approved settings; /breaker disarm and /breaker arm ${service} to apply the new ones.`,
          }
        : {}),
    };
  }
  if (state?.status === 'tripped') {
    return {
      id: 'breaker',
      title,
      status: 'fail',
      detail: `tripped at ${state.trip?.at ?? '?'} and latched`,
      fix: `Find out why it tripped (/breaker status), then re-arm with /breaker arm ${service} (two-person approval).`,
    };
  }
  return {
    id: 'breaker',
    title,
    status: 'fail',
    detail: state
      ? `disarmed by ${state.disarmed?.by.name ?? '?'} at ${state.disarmed?.at ?? '?'}`
      : 'never armed',
    fix: `/breaker arm ${service} (two-person approval), so a breach shifts traffic back with no human.`,
  };
}

async function approverCheck(deps: Deps, requester: Actor): Promise<PreflightCheck> {
  const title = 'An approver other than you is reachable';
  const { ids, anyone, unresolved } = await deps.access.approverIds();
  const others = ids.filter((id) => id !== requester.id);
  const note = unresolved.length > 0 ? ` (could not list ${unresolved.join(', ')})` : '';
  if (others.length > 0) {
    return {
      id: 'approver',
      title,
      status: 'pass',
      detail: `${others.length} approver(s) besides you: ${others.slice(0, 5).join(', ')}${others.length > 5 ? '…' : ''}${note}`,
    };
  }
  if (anyone) {
    return {
      id: 'approver',
      title,
      status: 'warn',
      detail: `access.approvers is "*": anyone but you may approve${note}`,
      fix: 'Name the approvers (a user group like @sre-leads) so the second person is someone who should decide.',
    };
  }
  return {
    id: 'approver',
    title,
    status: 'fail',
    detail: `no approver other than you${note}: canary start and a re-arm would wait forever`,
    fix: 'Add a second person to access.approvers (or to the group it names) and make sure they are on call during the migration.',
  };
}

/** Runs every check (reads only); records the result on the incident timeline when run inside one. */
export async function runPreflight(
  deps: Deps,
  req: { service: string; requester: Actor; incident?: Incident | null; purpose?: 'preflight' | 'canary' },
): Promise<PreflightReport> {
  const { service } = req;
  const traffic = deps.adapters.traffic?.[service];
  const layers: TrafficLayer[] = LAYER_ORDER.filter((l) => traffic?.[l]);
  const states: TrafficState[] = [];
  const errors: string[] = [];
  if (layers.length === 0) errors.push(`no traffic configured for ${service} (services.${service}.traffic)`);
  for (const layer of layers) {
    const port = traffic?.[layer];
    if (!port) continue;
    try {
      states.push(await port.read());
    } catch (err) {
      errors.push(`${LAYER_NAME[layer]}: ${(err as Error).message}`);
    }
  }
  const checks: PreflightCheck[] = [recordsCheck(service, states, errors)];
  if (errors.length === 0) {
    const ttl = ttlCheck(deps, service, states);
    if (ttl) checks.push(ttl);
    const hc = healthCheckCheck(states, service);
    if (hc) checks.push(hc);
    checks.push(await legacyHealthCheck(deps, service, states));
    checks.push(...(await layerChecks(deps, service, states)));
  }
  checks.push(await cdcCheck(deps, service));
  checks.push(await breakerCheck(deps, service));
  const metrics = await metricsCheck(deps, service);
  if (metrics) checks.push(metrics);
  checks.push(await approverCheck(deps, req.requester));
  const policies = await policiesCheck(deps, service, req.requester);
  if (policies) checks.push(policies);
  const report: PreflightReport = {
    service,
    at: deps.now().toISOString(),
    verdict: verdictOf(checks),
    checks,
    ...(errors.length === 0 ? { states } : {}),
  };
  if (req.incident && req.incident.service === service) {
    const failed = checks.filter((c) => c.status === 'fail').map((c) => c.title);
    const data: PreflightEventData = {
      service,
      verdict: report.verdict,
      checks: checks.map((c) => ({ id: c.id, status: c.status, detail: c.detail })),
      for: req.purpose ?? 'preflight',
    };
    await deps.incidents.record(req.incident.id, {
      step: 'D',
      kind: PREFLIGHT_CHECKED,
      actor: req.requester,
      summary: `Preflight of ${service}${req.purpose === 'canary' ? ' (before /canary start)' : ''}: ${report.verdict === 'ready' ? 'ready' : report.verdict === 'warnings' ? 'ready with warnings' : `NOT ready (${failed.join('; ')})`}`,
      data: { ...data },
    });
  }
  return report;
}
