// /preflight, the traffic checks: records, TTL, health checks and legacy health of each layer.
import {
  LAYER_NAME,
  describeWeights,
  weightsOf,
  type LayerCheck,
  type Route53Snapshot,
  type TrafficState,
} from '../../src/adapters/traffic.ts';
import type { PreflightCaps } from './caps.ts';
import { formatDuration } from '../../src/duration.ts';
import { answers } from './answers.ts';
import type { CheckStatus, PreflightCheck } from './preflight.ts';

function pairOf(state: TrafficState) {
  if (state.snapshot.kind !== 'route53') return undefined;
  const snapshot: Route53Snapshot = state.snapshot;
  const legacy = snapshot.records.find((r) => r.setIdentifier === state.legacy.id);
  const cloud = snapshot.records.find((r) => r.setIdentifier === state.cloud.id);
  return legacy && cloud ? { legacy, cloud, zone: snapshot.hostedZoneId } : undefined;
}

export function recordsCheck(service: string, states: TrafficState[], errors: string[]): PreflightCheck {
  const answer = answers('records', 'Weighted records exist and are well formed');
  if (errors.length > 0) {
    return answer.fail(
      errors.join('; '),
      `Create the weighted pair (SetIdentifiers in services.${service}.traffic) or correct the config, then run /preflight again.`,
    );
  }
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const state of states) {
    const weights = weightsOf(state);
    const total = weights.legacy + weights.cloud + state.others.reduce((s, o) => s + o.weight, 0);
    if (total === 0)
      problems.push(`${LAYER_NAME[state.layer]}: every weight is 0, so the provider splits traffic evenly`);
    const pair = pairOf(state);
    if (pair) {
      if (Boolean(pair.legacy.alias) !== Boolean(pair.cloud.alias))
        problems.push('Route 53: one record is an alias and the other is not; make both the same kind');
      for (const r of [pair.legacy, pair.cloud]) {
        if (!r.alias && (r.values ?? []).length === 0)
          problems.push(`Route 53: record ${r.setIdentifier} has no values`);
        if (r.trafficPolicyInstanceId)
          problems.push(
            `Route 53: record ${r.setIdentifier} is managed by a traffic policy; the bot cannot shift it`,
          );
      }
    }
    const weighted = state.others.filter((o) => o.weight > 0);
    if (weighted.length > 0)
      warnings.push(
        `${LAYER_NAME[state.layer]}: ${weighted.map((o) => `${o.id} (weight ${o.weight})`).join(', ')} also carry weight and are not managed by the bot`,
      );
  }
  const now = states
    .map((s) => `${LAYER_NAME[s.layer]} ${describeWeights(weightsOf(s), s.others)}`)
    .join('; ');
  if (problems.length > 0) {
    return answer.fail(
      problems.join('; '),
      'Fix the records so legacy and cloud are one weighted pair of the same kind, with values and a weight above 0 on at least one.',
    );
  }
  if (warnings.length > 0) {
    return answer.warn(
      `${now}. ${warnings.join('; ')}`,
      'Set the other weighted records to weight 0 (or remove them) so the percentages the bot writes are the shares clients get.',
    );
  }
  return answer.pass(now);
}

export function ttlCheck(
  deps: PreflightCaps,
  service: string,
  states: TrafficState[],
): PreflightCheck | undefined {
  const dns = states.find((s) => s.layer === 'route53');
  const cfg = deps.config.services[service]?.traffic?.route53;
  if (!dns || !cfg) return undefined;
  const maxTtl = cfg.maxTtl;
  const title = `TTL ≤ maxTtl (${maxTtl} s) on every record of the pair`;
  const pair = pairOf(dns);
  if (!pair) return { id: 'ttl', title, status: 'fail', detail: 'the pair could not be read' };
  if (pair.legacy.alias || pair.cloud.alias) {
    return {
      id: 'ttl',
      title,
      status: dns.convergence.seconds > maxTtl ? 'fail' : 'warn',
      detail: `alias records: clients follow the alias target's TTL (~${dns.convergence.seconds} s), which Route 53 sets, not you`,
      fix: 'Fine for load balancers and CloudFront (60 s). For an alias to another record, keep that record’s TTL at or below maxTtl.',
    };
  }
  const high = [pair.legacy, pair.cloud].filter((r) => (r.ttl ?? 0) > maxTtl);
  if (high.length > 0) {
    const worst = Math.max(...high.map((r) => r.ttl ?? 0));
    return {
      id: 'ttl',
      title,
      status: 'fail',
      detail: `${high.map((r) => `${r.setIdentifier} TTL ${r.ttl} s`).join(', ')}: after a trip, resolvers may keep sending clients to the cloud stack for up to ${formatDuration(worst * 1000)}`,
      fix: `Lower the TTL of both records to ${maxTtl} s at least ${formatDuration(worst * 1000)} before the migration (so caches holding the old TTL expire), e.g. an UPSERT of each record with "TTL": ${maxTtl} in zone ${pair.zone}.`,
    };
  }
  return {
    id: 'ttl',
    title,
    status: 'pass',
    detail: `legacy ${pair.legacy.ttl ?? '?'} s, cloud ${pair.cloud.ttl ?? '?'} s`,
  };
}

export function healthCheckCheck(states: TrafficState[], service: string): PreflightCheck | undefined {
  const dns = states.find((s) => s.layer === 'route53');
  if (!dns) return undefined;
  const title = 'Health check attached to the legacy record';
  if (dns.legacy.healthCheckId)
    return { id: 'health-check', title, status: 'pass', detail: `health check ${dns.legacy.healthCheckId}` };
  const pair = pairOf(dns);
  if (pair?.legacy.alias?.evaluateTargetHealth) {
    return {
      id: 'health-check',
      title,
      status: 'warn',
      detail:
        'no health check; the alias evaluates its target’s health, which the bot cannot read before a shift',
      fix: `Attach a Route 53 health check to the legacy record (SetIdentifier ${dns.legacy.id}) so the bot can refuse to shift onto a dead legacy stack.`,
    };
  }
  return {
    id: 'health-check',
    title,
    status: 'fail',
    detail: `the legacy record (SetIdentifier ${dns.legacy.id}) has no health check: nothing tells the bot, or Route 53, that legacy is down`,
    fix: `Create a Route 53 health check on the legacy endpoint and set it as HealthCheckId of ${service}'s legacy record (one UPSERT of that record).`,
  };
}

export async function legacyHealthCheck(
  deps: PreflightCaps,
  service: string,
  states: TrafficState[],
): Promise<PreflightCheck> {
  const title = 'Legacy is healthy';
  const traffic = deps.adapters.traffic?.[service];
  const lines: string[] = [];
  let status: CheckStatus = 'pass';
  for (const state of states) {
    const port = traffic?.[state.layer];
    if (!port) continue;
    const report = await port.checkLegacyHealth(state);
    lines.push(`${LAYER_NAME[state.layer]}: ${report.status} (${report.detail})`);
    if (report.status === 'unhealthy') status = 'fail';
    else if (report.status !== 'healthy' && status === 'pass') status = 'warn';
  }
  if (lines.length === 0)
    return { id: 'legacy-healthy', title, status: 'fail', detail: 'no traffic layer to check' };
  return {
    id: 'legacy-healthy',
    title,
    status,
    detail: lines.join('; '),
    ...(status === 'fail'
      ? {
          fix: 'Fix legacy first: a breaker trip shifts onto it, and the bot refuses to shift onto an unhealthy legacy.',
        }
      : status === 'warn'
        ? {
            fix: 'Attach a health check (Route 53) or check the legacy target group, so legacy health can be verified.',
          }
        : {}),
  };
}

/** What each layer adds of its own (ARC control states, endpoints and safety rules; route backends and endpoints). */
export async function layerChecks(
  deps: PreflightCaps,
  service: string,
  states: TrafficState[],
): Promise<LayerCheck[]> {
  const traffic = deps.adapters.traffic?.[service];
  const out: LayerCheck[] = [];
  for (const state of states) {
    const port = traffic?.[state.layer];
    if (!port?.checks) continue;
    try {
      out.push(...(await port.checks(state)));
    } catch (err) {
      deps.log.warn({ err, service, layer: state.layer }, 'layer preflight checks failed');
    }
  }
  return out;
}
