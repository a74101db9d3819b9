// Route 53 record shapes: SDK <-> our weighted records, name normalisation, and the traffic state of a snapshot.
import type { ResourceRecordSet, RRType } from '@aws-sdk/client-route-53';
import type { Route53Traffic } from '../config.ts';
import {
  fingerprintOf,
  type Route53Snapshot,
  type TrafficSide,
  type TrafficState,
  type WeightedRecord,
} from './traffic.ts';

export const ROUTE53_MAX_WEIGHT = 255;
/** Route 53 considers an endpoint healthy when more than 18% of its health checkers say so. */
export const HEALTHY_FRACTION = 0.18;
/** What clients of an alias record to an AWS load balancer or CloudFront cache: Route 53 answers with TTL 60. */
const ALIAS_TTL = 60;
export const MAX_PAGES = 50;
export const COMMENT_MAX = 256;

/** Route 53 escapes some characters in names it returns (`*` comes back as `\052`). */
export function unescapeDnsName(name: string): string {
  return name
    .replace(/\\(\d{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)))
    .toLowerCase();
}

export function normalizeName(name: string): string {
  const n = unescapeDnsName(name.trim());
  return n.endsWith('.') ? n : `${n}.`;
}

export function stripChangeId(id: string | undefined): string | undefined {
  return id?.replace(/^\/change\//, '');
}

/** Our record shape from the SDK's: only weighted records come here. */
export function toWeighted(r: ResourceRecordSet): WeightedRecord {
  return {
    name: normalizeName(r.Name ?? ''),
    type: r.Type ?? '',
    setIdentifier: r.SetIdentifier ?? '',
    weight: r.Weight ?? 0,
    ...(r.TTL !== undefined ? { ttl: r.TTL } : {}),
    ...(r.ResourceRecords ? { values: r.ResourceRecords.map((v) => v.Value ?? '') } : {}),
    ...(r.AliasTarget
      ? {
          alias: {
            hostedZoneId: r.AliasTarget.HostedZoneId ?? '',
            dnsName: r.AliasTarget.DNSName ?? '',
            evaluateTargetHealth: r.AliasTarget.EvaluateTargetHealth ?? false,
          },
        }
      : {}),
    ...(r.HealthCheckId ? { healthCheckId: r.HealthCheckId } : {}),
    ...(r.TrafficPolicyInstanceId ? { trafficPolicyInstanceId: r.TrafficPolicyInstanceId } : {}),
  };
}

/** Back to the SDK's shape, field for field, so a DELETE matches what Route 53 holds. */
export function toRecordSet(r: WeightedRecord): ResourceRecordSet {
  return {
    Name: r.name,
    Type: r.type as RRType,
    SetIdentifier: r.setIdentifier,
    Weight: r.weight,
    ...(r.ttl !== undefined ? { TTL: r.ttl } : {}),
    ...(r.values ? { ResourceRecords: r.values.map((Value) => ({ Value })) } : {}),
    ...(r.alias
      ? {
          AliasTarget: {
            HostedZoneId: r.alias.hostedZoneId,
            DNSName: r.alias.dnsName,
            EvaluateTargetHealth: r.alias.evaluateTargetHealth,
          },
        }
      : {}),
    ...(r.healthCheckId ? { HealthCheckId: r.healthCheckId } : {}),
    ...(r.trafficPolicyInstanceId ? { TrafficPolicyInstanceId: r.trafficPolicyInstanceId } : {}),
  };
}

function sideOf(r: WeightedRecord): TrafficSide {
  const target = r.alias ? `alias ${r.alias.dnsName}` : (r.values ?? []).join(', ');
  return {
    id: r.setIdentifier,
    weight: r.weight,
    target,
    ...(r.healthCheckId ? { healthCheckId: r.healthCheckId } : {}),
  };
}

/** The traffic state of a snapshot: the legacy/cloud pair, the others, and how long resolvers take to converge. */
export function stateOf(snapshot: Route53Snapshot, config: Route53Traffic, resource: string): TrafficState {
  const { legacy, cloud } = config;
  const records = snapshot.records;
  const legacyRecord = records.find((r) => r.setIdentifier === legacy);
  const cloudRecord = records.find((r) => r.setIdentifier === cloud);
  if (!legacyRecord || !cloudRecord) throw new Error('snapshot without the legacy/cloud records');
  const pair = [legacyRecord, cloudRecord];
  const ttls = pair.map((r) => r.ttl).filter((t): t is number => t !== undefined);
  const anyAlias = pair.some((r) => r.alias !== undefined);
  const ttl = ttls.length > 0 ? Math.max(...ttls) : undefined;
  const convergence = anyAlias
    ? {
        seconds: Math.max(ALIAS_TTL, ttl ?? 0),
        basis:
          'alias record: resolvers cache the alias target’s TTL (60 s for load balancers and CloudFront; for an alias to another record in this zone, that record’s TTL)',
      }
    : { seconds: ttl ?? 0, basis: `record TTL ${ttl ?? 0} s` };
  return {
    layer: 'route53',
    resource,
    legacy: sideOf(legacyRecord),
    cloud: sideOf(cloudRecord),
    others: records.filter((r) => r !== legacyRecord && r !== cloudRecord).map(sideOf),
    maxWeight: ROUTE53_MAX_WEIGHT,
    ...(ttl !== undefined && !anyAlias ? { ttl } : {}),
    convergence,
    healthChecks: records.some((r) => r.healthCheckId !== undefined || r.alias?.evaluateTargetHealth),
    fingerprint: fingerprintOf(snapshot),
    snapshot,
  };
}
