// The ARC traffic adapter: two routing controls flipped in one UpdateRoutingControlStates call, endpoint by endpoint.
import {
  GetRoutingControlStateCommand,
  ListRoutingControlsCommand,
  UpdateRoutingControlStatesCommand,
  type Route53RecoveryClusterClient,
} from '@aws-sdk/client-route53-recovery-cluster';
import type { ArcTraffic } from '../config.ts';
import { ExternalServiceError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { observeAfterFailure } from '../outcome.ts';
import { awsError, isThrottle, realSleep, unexpectedAwsError } from './aws-retry.ts';
import { arcChecks, safetyRefusal, tail, type ArcControl } from './arc-checks.ts';
import type { ControlConfigPort } from './arc-control-config.ts';
import {
  assertWritable,
  fingerprintOf,
  TrafficDriftError,
  TrafficRejectedError,
  type ArcSnapshot,
  type HealthReport,
  type LayerCheck,
  type RecheckReport,
  type ShiftOptions,
  type ShiftReceipt,
  type SyncResult,
  type TrafficPort,
  type TrafficState,
  type Weights,
  inSyncNow,
  recheckByReading,
} from './traffic.ts';
import { describeFailure, mayHaveCommitted } from './write-outcome.ts';

export const ARC = 'Route 53 ARC';

export interface ArcEndpoint {
  endpoint: string;
  region: string;
}

export interface ArcOptions {
  /** One client per cluster endpoint (each Regional endpoint is its own host, signed for its own region). */
  clientFor: (endpoint: ArcEndpoint) => Route53RecoveryClusterClient;
  config: ArcTraffic;
  metrics: Metrics;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
  /** Picks the first endpoint (AWS advises a random one, then the others in turn). */
  random?: () => number;
  now?: () => Date;
  /** The control-config API, for /preflight to read and evaluate the panel's safety rules. */
  controlConfig?: ControlConfigPort;
}

type OnOff = 'On' | 'Off';

/** An endpoint that did not serve the call: the next one may (network, 5xx, throttling, maintenance). */
function endpointTrouble(err: unknown): boolean {
  const { status, code } = awsError(err);
  return (
    status === undefined ||
    status >= 500 ||
    isThrottle(err) ||
    code === 'EndpointTemporarilyUnavailableException'
  );
}

function onOff(weight: number): OnOff {
  return weight > 0 ? 'On' : 'Off';
}

export class ArcTrafficAdapter implements TrafficPort {
  readonly layer = 'arc' as const;
  readonly resource: string;
  readonly lockKey: string;
  #config: ArcTraffic;
  #clientFor: (endpoint: ArcEndpoint) => Route53RecoveryClusterClient;
  #metrics: Metrics;
  #log: Logger;
  #sleep: (ms: number) => Promise<void>;
  #now: () => Date;
  #controlConfig: ControlConfigPort | undefined;
  /** Where the next call starts: a random endpoint first, then the one that last answered. */
  #start: number;

  constructor(opts: ArcOptions) {
    this.#config = opts.config;
    this.#clientFor = opts.clientFor;
    this.#metrics = opts.metrics;
    this.#log = opts.log;
    this.#sleep = opts.sleep ?? realSleep;
    this.#now = opts.now ?? (() => new Date());
    this.#controlConfig = opts.controlConfig;
    const n = opts.config.clusterEndpoints.length;
    this.#start = Math.min(n - 1, Math.floor((opts.random ?? Math.random)() * n));
    this.resource = `ARC control panel ${tail(opts.config.controlPanelArn)}: legacy ${tail(opts.config.legacyRoutingControlArn)}, cloud ${tail(opts.config.cloudRoutingControlArn)}`;
    this.lockKey = `arc:${opts.config.controlPanelArn}`;
  }

  /** The endpoints in the order to try them now. */
  #order(): ArcEndpoint[] {
    const all = this.#config.clusterEndpoints;
    return all.map((_, i) => all[(this.#start + i) % all.length] as ArcEndpoint);
  }

  #answered(endpoint: ArcEndpoint): void {
    this.#start = this.#config.clusterEndpoints.indexOf(endpoint);
  }

  /**
   * One call on the first endpoint that serves it, trying the others in turn. Endpoint trouble moves on; anything
   * else (a refusal) is thrown as ARC raised it. Every endpoint failing is an ExternalServiceError naming each.
   */
  async #onAny<T>(
    operation: string,
    fn: (client: Route53RecoveryClusterClient) => Promise<T>,
    from: ArcEndpoint[] = this.#order(),
  ): Promise<{ value: T; endpoint: ArcEndpoint; failed: string[] }> {
    const failed: string[] = [];
    let last: unknown;
    for (const endpoint of from) {
      try {
        const value = await this.#metrics.timed('arc', operation, () => fn(this.#clientFor(endpoint)));
        this.#answered(endpoint);
        return { value, endpoint, failed };
      } catch (err) {
        if (!endpointTrouble(err)) throw err;
        last = err;
        failed.push(`${endpoint.region} ${describeFailure(err)}`);
        this.#log.warn(
          { operation, region: endpoint.region },
          'arc cluster endpoint failed; trying the next',
        );
      }
    }
    throw new ExternalServiceError(
      ARC,
      `${operation}: no cluster endpoint answered (${failed.join('; ')}). ARC keeps at least three of five endpoints up; check traffic.arc.clusterEndpoints against describe-cluster.`,
      { retryable: true, cause: last },
    );
  }

  async #stateOf(arn: string, from?: ArcEndpoint[]): Promise<ArcControl> {
    try {
      const { value } = await this.#onAny(
        'GetRoutingControlState',
        (client) => client.send(new GetRoutingControlStateCommand({ RoutingControlArn: arn })),
        from,
      );
      const state = value.RoutingControlState;
      if (state !== 'On' && state !== 'Off') {
        throw new ExternalServiceError(ARC, `GetRoutingControlState returned no state for ${arn}`);
      }
      return { arn, state, ...(value.RoutingControlName ? { name: value.RoutingControlName } : {}) };
    } catch (err) {
      if (err instanceof ExternalServiceError) throw err;
      const info = awsError(err);
      if (info.code === 'ResourceNotFoundException') {
        throw new ExternalServiceError(
          ARC,
          `routing control ${arn} does not exist on this cluster (${info.message}). Check traffic.arc in cloud-safety.yml.`,
          { status: info.status, cause: err },
        );
      }
      throw unexpectedAwsError(ARC, 'GetRoutingControlState', err);
    }
  }

  async #readFrom(from?: ArcEndpoint[]): Promise<TrafficState> {
    const legacy = await this.#stateOf(this.#config.legacyRoutingControlArn, from);
    const cloud = await this.#stateOf(this.#config.cloudRoutingControlArn, from);
    const snapshot: ArcSnapshot = {
      kind: 'arc',
      controlPanelArn: this.#config.controlPanelArn,
      states: [legacy, cloud],
    };
    const side = (c: ArcControl) => ({
      id: c.arn,
      weight: c.state === 'On' ? 1 : 0,
      target: `routing control ${c.name ?? tail(c.arn)} (${c.state})`,
    });
    const ttl = this.#config.recordTtl;
    return {
      layer: 'arc',
      resource: this.resource,
      legacy: side(legacy),
      cloud: side(cloud),
      others: [],
      maxWeight: 1,
      ttl,
      convergence: {
        seconds: ttl,
        basis: `TTL ${ttl} s of the DNS records the routing controls' health checks gate`,
      },
      healthChecks: false,
      // Names are labels, not state: a renamed control is not a moved one.
      fingerprint: fingerprintOf(snapshot.states.map((s) => ({ arn: s.arn, state: s.state }))),
      snapshot,
    };
  }

  read(): Promise<TrafficState> {
    return this.#readFrom();
  }

  async checkLegacyHealth(): Promise<HealthReport> {
    // A routing control is a switch, not a probe: the legacy stack's health is what readiness checks report.
    return {
      status: 'unchecked',
      detail:
        'ARC routing controls carry no health of their own; check the legacy stack before turning it On',
    };
  }

  async shift(expected: TrafficState, to: Weights, opts: ShiftOptions): Promise<ShiftReceipt> {
    if (expected.snapshot.kind !== 'arc') throw new Error('not an ARC state');
    assertWritable(to, expected.others, 1);
    const entries = [
      { RoutingControlArn: this.#config.legacyRoutingControlArn, RoutingControlState: onOff(to.legacy) },
      { RoutingControlArn: this.#config.cloudRoutingControlArn, RoutingControlState: onOff(to.cloud) },
    ];
    const before = { legacy: expected.legacy.weight, cloud: expected.cloud.weight };
    const receipt = (extra: Partial<ShiftReceipt>): ShiftReceipt => ({
      layer: 'arc',
      resource: this.resource,
      before,
      after: to,
      status: 'INSYNC',
      submittedAt: this.#now().toISOString(),
      attempts: 1,
      ...extra,
    });
    let override: string[] | undefined;
    const failed: string[] = [];
    let observed: string | undefined;
    let attempts = 0;
    const order = this.#order();
    for (let i = 0; i < order.length; i++) {
      const endpoint = order[i] as ArcEndpoint;
      attempts += 1;
      try {
        await this.#metrics.timed('arc', 'UpdateRoutingControlStates', () =>
          this.#clientFor(endpoint).send(
            new UpdateRoutingControlStatesCommand({
              UpdateRoutingControlStateEntries: entries,
              ...(override ? { SafetyRulesToOverride: override } : {}),
            }),
          ),
        );
        this.#answered(endpoint);
        return receipt({
          attempts,
          endpoint: { used: endpoint.region, failed },
          fingerprint: fingerprintOf(
            entries.map((e) => ({ arn: e.RoutingControlArn, state: e.RoutingControlState })),
          ),
          ...(observed ? { observed } : {}),
          ...(override ? { overrode: this.#ruleNames(override) } : {}),
        });
      } catch (err) {
        const info = awsError(err);
        if (info.code === 'ConflictException') {
          if (opts.breakGlass !== undefined && !override && this.#config.safetyRules.length > 0) {
            // Break-glass: the same call again, overriding only the rules the team listed for emergencies.
            override = this.#config.safetyRules.map((r) => r.arn);
            this.#log.warn({ rules: override }, 'arc break-glass: overriding safety rules');
            i -= 1;
            continue;
          }
          throw new TrafficRejectedError('arc', 'SafetyRule', this.#refusal(info.message, opts, override));
        }
        if (!endpointTrouble(err)) {
          if (info.code === 'ValidationException' || info.code === 'ResourceNotFoundException') {
            throw new TrafficRejectedError('arc', info.code, info.message);
          }
          throw unexpectedAwsError(ARC, 'UpdateRoutingControlStates', err);
        }
        const failure = `UpdateRoutingControlStates on ${endpoint.region} ${describeFailure(err)}`;
        failed.push(`${endpoint.region} ${describeFailure(err)}`);
        this.#log.warn({ region: endpoint.region, code: info.code }, 'arc update failed on an endpoint');
        // An endpoint in maintenance says so before processing anything; other 5xx and silence may have committed.
        if (info.code === 'EndpointTemporarilyUnavailableException' || !mayHaveCommitted(err)) continue;
        // The cluster may have taken it: read it back (from the other endpoints) before sending it anywhere else.
        const rest = [...order.slice(i + 1), ...order.slice(0, i + 1)];
        const seen = await observeAfterFailure({
          service: ARC,
          failure,
          read: () => this.#readFrom(rest),
          verdict: (s) =>
            s.legacy.weight === to.legacy && s.cloud.weight === to.cloud
              ? 'applied'
              : s.fingerprint === expected.fingerprint
                ? 'untouched'
                : 'moved',
          reads: 1,
          sleep: this.#sleep,
        });
        const now = `legacy ${seen.current.legacy.target}, cloud ${seen.current.cloud.target}`;
        if (seen.verdict === 'applied') {
          return receipt({
            attempts,
            endpoint: { used: endpoint.region, failed },
            fingerprint: seen.current.fingerprint,
            observed: `${failure}, but the cluster read back shows ${now} as asked: the change was applied`,
            ...(override ? { overrode: this.#ruleNames(override) } : {}),
          });
        }
        if (seen.verdict === 'moved') {
          throw new TrafficDriftError(
            'arc',
            `${failure}; the cluster read back shows ${now}, neither what was read nor what was asked: someone else changed the routing controls`,
          );
        }
        observed = `${failure}; the cluster read back still showed ${now}, so it was sent to the next endpoint`;
      }
    }
    const why = observed
      ? 'the routing controls were read back unchanged'
      : 'each endpoint refused it before processing it';
    throw new ExternalServiceError(
      ARC,
      `UpdateRoutingControlStates: no cluster endpoint took it (${failed.join('; ')}); ${why}, so nothing was written. Run it again; ARC keeps at least three of five endpoints up.`,
      { retryable: true },
    );
  }

  #ruleNames(arns: string[]): string[] {
    return arns.map((arn) => {
      const rule = this.#config.safetyRules.find((r) => r.arn === arn);
      return rule ? `${rule.name} (${tail(arn)})` : tail(arn);
    });
  }

  /** A safety rule's refusal, in plain words: what was refused, what ARC said, and what a person can do. */
  #refusal(arcMessage: string, opts: ShiftOptions, override: string[] | undefined): string {
    return safetyRefusal(this.#config, arcMessage, {
      breakGlass: opts.breakGlass !== undefined,
      ...(override ? { overrode: this.#ruleNames(override) } : {}),
    });
  }

  async syncStatus(): Promise<'PENDING' | 'INSYNC'> {
    return 'INSYNC';
  }

  async waitInSync(): Promise<SyncResult> {
    // The cluster answers only once the change is committed across it; DNS caching is the convergence that follows.
    return inSyncNow(this.#now);
  }

  recheck(receipt: Pick<ShiftReceipt, 'before' | 'after'>): Promise<RecheckReport> {
    return recheckByReading(() => this.read(), receipt);
  }

  async checks(state: TrafficState): Promise<LayerCheck[]> {
    return arcChecks({
      config: this.#config,
      state,
      listControls: async () => {
        const controls: ArcControl[] = [];
        let token: string | undefined;
        do {
          const { value } = await this.#onAny('ListRoutingControls', (client) =>
            client.send(
              new ListRoutingControlsCommand({
                ControlPanelArn: this.#config.controlPanelArn,
                ...(token ? { NextToken: token } : {}),
              }),
            ),
          );
          for (const c of value.RoutingControls ?? []) {
            if (c.RoutingControlArn && (c.RoutingControlState === 'On' || c.RoutingControlState === 'Off')) {
              controls.push({
                arn: c.RoutingControlArn,
                state: c.RoutingControlState,
                ...(c.RoutingControlName ? { name: c.RoutingControlName } : {}),
              });
            }
          }
          token = value.NextToken;
        } while (token);
        return controls;
      },
      controlConfig: this.#controlConfig,
      probeEndpoint: async (endpoint) => {
        try {
          await this.#stateOf(this.#config.legacyRoutingControlArn, [endpoint]);
          return undefined;
        } catch (err) {
          return (err as Error).message;
        }
      },
    });
  }
}
