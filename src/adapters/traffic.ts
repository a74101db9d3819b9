// The traffic port: read a weighted legacy/cloud split, check legacy health, shift it with compare-and-swap, follow it live.
import { canonicalJson, sha256 } from '../timeline.ts';

export type TrafficLayer = 'arc' | 'route53' | 'alb' | 'gateway' | 'istio';

/**
 * The order layers are shifted in when several are configured: DNS first (ARC routing controls, then weighted
 * records), then the load balancer, then the mesh or gateway inside the cluster.
 */
export const LAYER_ORDER: readonly TrafficLayer[] = ['arc', 'route53', 'alb', 'gateway', 'istio'];

export const LAYER_NAME: Record<TrafficLayer, string> = {
  arc: 'Route 53 ARC',
  route53: 'Route 53',
  alb: 'ALB',
  gateway: 'Gateway API',
  istio: 'Istio',
};

/** Weights as the provider stores them (Route 53 0-255, ALB 0-999). */
export interface Weights {
  legacy: number;
  cloud: number;
}

/** Shares of traffic in percent, 0-100. */
export interface Split {
  legacy: number;
  cloud: number;
}

/** One side of the split as read: a weighted record (Route 53) or a target group in a forward action (ALB). */
export interface TrafficSide {
  /** SetIdentifier (Route 53) or target group ARN (ALB). */
  id: string;
  weight: number;
  /** What it points at, for people: "192.0.2.10, 192.0.2.11", "alias legacy-alb-1.us-east-1.elb.amazonaws.com." */
  target: string;
  healthCheckId?: string;
}

/** A weighted Route 53 record exactly as read (our shape, every field Route 53 compares on DELETE). */
export interface WeightedRecord {
  name: string;
  type: string;
  setIdentifier: string;
  weight: number;
  ttl?: number;
  values?: string[];
  alias?: { hostedZoneId: string; dnsName: string; evaluateTargetHealth: boolean };
  healthCheckId?: string;
  trafficPolicyInstanceId?: string;
}

export interface Route53Snapshot {
  kind: 'route53';
  hostedZoneId: string;
  /** Every weighted record of the name and type, legacy and cloud included, as read. */
  records: WeightedRecord[];
}

export interface AlbSnapshot {
  kind: 'alb';
  listenerArn: string;
  ruleArn?: string;
  /** The rule's (or listener's default) actions as read; written back whole with only the weights changed. */
  actions: Record<string, unknown>[];
}

/** Two ARC routing controls as read: weight 1 is On, 0 is Off. */
export interface ArcSnapshot {
  kind: 'arc';
  controlPanelArn: string;
  states: { arn: string; name?: string; state: 'On' | 'Off' }[];
}

/** One rule of an HTTPRoute or one http route of a VirtualService, at the resourceVersion it was read at. */
export interface KubeRouteSnapshot {
  kind: 'gateway' | 'istio';
  namespace: string;
  name: string;
  /** The compare-and-swap token: the write carries it, and the API server refuses it (409) once the object moved. */
  resourceVersion: string;
  /** Which rule / http route: its name or index. */
  route: string;
  /** Every weighted destination of that rule, as read. */
  destinations: { id: string; weight: number }[];
}

/** A preflight finding of one layer (ARC control states and safety rules, route endpoints...). */
export interface LayerCheck {
  id:
    | 'arc-controls'
    | 'arc-endpoints'
    | 'arc-safety-rules'
    | 'arc-panel-rules'
    | 'arc-safety-rules-config'
    | 'route-backends';
  title: string;
  status: 'pass' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export interface TrafficState {
  layer: TrafficLayer;
  /** What is shifted, as a person names it: "api.payments.example.com. A (zone Z0…)". */
  resource: string;
  legacy: TrafficSide;
  cloud: TrafficSide;
  /** Other weighted entries of the same group that are not managed here: their weight still takes a share. */
  others: TrafficSide[];
  /** The provider's largest weight (Route 53 255, ALB 999). */
  maxWeight: number;
  /** Seconds resolvers may cache the answer; absent for alias records (then the alias target's TTL counts). */
  ttl?: number;
  /** How long after the change is live until every client follows it, and why that long. */
  convergence: { seconds: number; basis: string };
  /** True when health checks are attached: Route 53 then falls back to weight-0 records if all others fail. */
  healthChecks: boolean;
  /** SHA-256 over exactly what was read: the same fingerprint means nothing moved. */
  fingerprint: string;
  snapshot: Route53Snapshot | AlbSnapshot | ArcSnapshot | KubeRouteSnapshot;
}

export interface HealthReport {
  /** `unchecked`: nothing to check (no health check attached). `unknown`: could not tell; does not block. */
  status: 'healthy' | 'unhealthy' | 'unknown' | 'unchecked';
  detail: string;
}

/** Proof that a shift was accepted. */
export interface ShiftReceipt {
  layer: TrafficLayer;
  resource: string;
  before: Weights;
  after: Weights;
  /** Route 53's change id (C…); absent for the ALB, which applies at once. */
  changeId?: string;
  status: 'PENDING' | 'INSYNC';
  submittedAt: string;
  /** Calls it took (throttling retries included). */
  attempts: number;
  /** Fingerprint of the entries as written, so a later read can tell "ours" from "moved again". */
  fingerprint?: string;
  /**
   * Set when the write's answer was an error or never came and the receipt comes from reading reality afterwards:
   * what went wrong and what the read showed, for the card and the timeline.
   */
  observed?: string;
  /** ARC break-glass: the safety rules overridden, as "name (arn)". */
  overrode?: string[];
  /** Which endpoint answered, when the layer has several (ARC cluster endpoints), and the ones that failed first. */
  endpoint?: { used: string; failed: string[] };
}

export interface SyncProgress {
  status: 'PENDING' | 'INSYNC';
  elapsedMs: number;
  polls: number;
}

export interface SyncResult {
  /** PENDING only when `timeoutMs` ran out first. */
  status: 'PENDING' | 'INSYNC';
  elapsedMs: number;
  polls: number;
  at: string;
}

export interface RecheckReport {
  /** GetChange's answer for the receipt's change id, when there is one. */
  status?: 'PENDING' | 'INSYNC';
  /** The entries now show exactly the receipt's `after` weights. */
  applied: boolean;
  /** The entries now still show the `before` weights (the change never landed). */
  untouched: boolean;
  current: TrafficState;
}

export interface TrafficPort {
  readonly layer: TrafficLayer;
  /** What this port shifts, for cards and logs. */
  readonly resource: string;
  /** One write at a time per lock key (Route 53: per hosted zone; ALB: per listener). */
  readonly lockKey: string;
  read(): Promise<TrafficState>;
  /** The health of what `state.legacy` points at (Route 53 health check, ALB target health). */
  checkLegacyHealth(state: TrafficState): Promise<HealthReport>;
  /**
   * Writes `to` only if the entries are still exactly `expected`; otherwise throws TrafficDriftError and writes
   * nothing. Never writes all-zero weights.
   */
  shift(expected: TrafficState, to: Weights, opts: ShiftOptions): Promise<ShiftReceipt>;
  /** Polls until the change is live everywhere (INSYNC), reporting each poll. */
  waitInSync(
    receipt: ShiftReceipt,
    opts?: { timeoutMs?: number; onProgress?: (p: SyncProgress) => Promise<void> | void },
  ): Promise<SyncResult>;
  /** One look at where a change got to (GetChange); INSYNC when the layer has no propagation. */
  syncStatus(receipt: Pick<ShiftReceipt, 'changeId'>): Promise<'PENDING' | 'INSYNC'>;
  /** After a restart: reads reality for a shift that may or may not have been sent. Never writes. */
  recheck(receipt: Pick<ShiftReceipt, 'changeId' | 'before' | 'after'>): Promise<RecheckReport>;
  /** What /preflight should also know about this layer (ARC states and safety rules, route endpoints). Reads only. */
  checks?(state: TrafficState): Promise<LayerCheck[]>;
}

export interface ShiftOptions {
  comment: string;
  /**
   * The break-glass reason when the change was executed without a second approver. Only ARC uses it: a refusal by
   * a safety rule named in traffic.arc.safetyRules is then overridden, and the receipt says which rules.
   */
  breakGlass?: string;
}

/** The layers configured for one service. */
export type ServiceTraffic = Partial<Record<TrafficLayer, TrafficPort>>;

/** The entries changed since they were read: nothing was written. */
export class TrafficDriftError extends Error {
  code = 'traffic.drift';
  layer: TrafficLayer;
  /** The provider's own words, when it was the provider that refused (Route 53's InvalidChangeBatch). */
  providerMessage: string | undefined;
  constructor(layer: TrafficLayer, message: string, providerMessage?: string) {
    super(message);
    this.name = 'TrafficDriftError';
    this.layer = layer;
    this.providerMessage = providerMessage;
  }
}

/** The provider refused the change as invalid (InvalidChangeBatch, InvalidInput...): a person must look. */
export class TrafficRejectedError extends Error {
  code = 'traffic.rejected';
  layer: TrafficLayer;
  providerCode: string;
  constructor(layer: TrafficLayer, providerCode: string, message: string) {
    super(message);
    this.name = 'TrafficRejectedError';
    this.layer = layer;
    this.providerCode = providerCode;
  }
}

/**
 * A layer whose largest weight is 1 is a switch (ARC routing controls: On or Off): it can only give legacy all of
 * the traffic or none of it. Returns the switch weights for a legacy share, or undefined for a share in between.
 */
export function switchWeights(legacyPercent: number): Weights | undefined {
  if (legacyPercent === 100) return { legacy: 1, cloud: 0 };
  if (legacyPercent === 0) return { legacy: 0, cloud: 1 };
  return undefined;
}

/** The scale /contain writes on: weights equal percentages (legacy=p, cloud=100-p), valid for Route 53 and ALB. */
export const WEIGHT_SCALE = 100;

/** Weights for a legacy share. Legacy 100% is legacy 100 / cloud 0, never 0 / 0. */
export function weightsForPercent(legacyPercent: number): Weights {
  if (!Number.isInteger(legacyPercent) || legacyPercent < 0 || legacyPercent > 100) {
    throw new RangeError(`legacy percent must be a whole number 0-100, got ${legacyPercent}`);
  }
  return { legacy: legacyPercent, cloud: WEIGHT_SCALE - legacyPercent };
}

/** Shares of the whole group, others included. All zero means the provider splits evenly (Route 53 does). */
export function splitOf(weights: Weights, others: readonly { weight: number }[] = []): Split {
  const otherTotal = others.reduce((sum, o) => sum + o.weight, 0);
  const total = weights.legacy + weights.cloud + otherTotal;
  if (total === 0) {
    const n = 2 + others.length;
    return { legacy: round1(100 / n), cloud: round1(100 / n) };
  }
  return { legacy: round1((100 * weights.legacy) / total), cloud: round1((100 * weights.cloud) / total) };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

export function weightsOf(state: TrafficState): Weights {
  return { legacy: state.legacy.weight, cloud: state.cloud.weight };
}

/** Throws unless some weight of the group stays above 0 and every weight fits the provider. */
export function assertWritable(to: Weights, others: readonly { weight: number }[], maxWeight: number): void {
  for (const w of [to.legacy, to.cloud]) {
    if (!Number.isInteger(w) || w < 0 || w > maxWeight) {
      throw new RangeError(`weight ${w} is outside 0-${maxWeight}`);
    }
  }
  if (to.legacy === 0 && to.cloud === 0 && others.every((o) => o.weight === 0)) {
    // Route 53 answers an all-zero group as if every weight were equal: that would send half the traffic back.
    throw new RangeError('refusing to write all weights 0 (the provider would then split traffic evenly)');
  }
}

export function fingerprintOf(value: unknown): string {
  return sha256(canonicalJson(value));
}

/** "legacy 20 / cloud 80 (20% / 80%)" */
export function describeWeights(weights: Weights, others: readonly { weight: number }[] = []): string {
  const split = splitOf(weights, others);
  return `legacy ${weights.legacy} / cloud ${weights.cloud} (${split.legacy}% / ${split.cloud}%)`;
}

/** "legacy On / cloud Off" for a switch layer (ARC), "legacy 100 / cloud 0" for weights; `split` adds the shares. */
export function describeLayerWeights(layer: TrafficLayer, weights: Weights, split = false): string {
  if (layer !== 'arc')
    return split ? describeWeights(weights) : `legacy ${weights.legacy} / cloud ${weights.cloud}`;
  const onOff = (w: number) => (w > 0 ? 'On' : 'Off');
  const shares = splitOf(weights);
  return `legacy ${onOff(weights.legacy)} / cloud ${onOff(weights.cloud)}${split ? ` (${shares.legacy}% / ${shares.cloud}%)` : ''}`;
}

/** What differs between two reads of the same group, for "the records changed since the request" messages. */
export function describeDrift(before: TrafficState, after: TrafficState): string[] {
  const changes: string[] = [];
  for (const side of ['legacy', 'cloud'] as const) {
    const a = before[side];
    const b = after[side];
    if (a.weight !== b.weight) changes.push(`${side} weight ${a.weight} -> ${b.weight}`);
    if (a.target !== b.target) changes.push(`${side} target ${a.target} -> ${b.target}`);
    if (a.healthCheckId !== b.healthCheckId)
      changes.push(`${side} health check ${a.healthCheckId ?? 'none'} -> ${b.healthCheckId ?? 'none'}`);
  }
  if (before.ttl !== after.ttl) changes.push(`TTL ${before.ttl ?? 'alias'} -> ${after.ttl ?? 'alias'}`);
  const othersBefore = new Map(before.others.map((o) => [o.id, o.weight]));
  const othersAfter = new Map(after.others.map((o) => [o.id, o.weight]));
  for (const [id, weight] of othersAfter) {
    if (!othersBefore.has(id)) changes.push(`new entry ${id} (weight ${weight})`);
    else if (othersBefore.get(id) !== weight)
      changes.push(`${id} weight ${othersBefore.get(id)} -> ${weight}`);
  }
  for (const id of othersBefore.keys()) if (!othersAfter.has(id)) changes.push(`entry ${id} removed`);
  const version = (s: TrafficState) =>
    'resourceVersion' in s.snapshot ? s.snapshot.resourceVersion : undefined;
  if (version(before) !== version(after))
    changes.push(`resourceVersion ${version(before)} -> ${version(after)} (the route was edited)`);
  if (changes.length === 0 && before.fingerprint !== after.fingerprint)
    changes.push('other fields of the entries changed');
  return changes;
}

/** A layer whose write is in effect once it is answered (ALB, ARC, Kubernetes routes): INSYNC at once, no polls. */
export function inSyncNow(now: () => Date): SyncResult {
  return { status: 'INSYNC', elapsedMs: 0, polls: 0, at: now().toISOString() };
}

/**
 * A recheck after a restart by reading the layer: `applied` when it shows the receipt's `after` weights, `untouched`
 * when it still shows `before`. With `reads` > 1 it reads again (`pauseMs` apart) while `after` is not shown, for
 * eventually consistent reads where one stale read must not mean "never applied".
 */
export async function recheckByReading(
  read: () => Promise<TrafficState>,
  receipt: Pick<ShiftReceipt, 'before' | 'after'>,
  opts: { reads?: number; pauseMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<RecheckReport> {
  const same = (s: TrafficState, w: Weights) => s.legacy.weight === w.legacy && s.cloud.weight === w.cloud;
  let current = await read();
  for (let n = 2; n <= (opts.reads ?? 1) && !same(current, receipt.after); n++) {
    await opts.sleep?.(opts.pauseMs ?? 1000);
    current = await read();
  }
  return {
    status: 'INSYNC',
    applied: same(current, receipt.after),
    untouched: same(current, receipt.before),
    current,
  };
}
