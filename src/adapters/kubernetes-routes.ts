// The in-cluster traffic layers: HTTPRoute backendRef weights and VirtualService route weights, written as a
// compare-and-swap on metadata.resourceVersion, after checking the legacy Service has ready endpoints.
import type { Logger } from '../log.ts';
import { NotWrittenError, observeAfterFailure } from '../outcome.ts';
import { KubernetesError } from './kubernetes/types.ts';
import type { EndpointCount, RouteApi } from './kubernetes-routes-api.ts';
import type { KubeObject, RouteKind } from './kubernetes-route-kinds.ts';
import { ExternalServiceError } from '../errors.ts';
import { mayHaveApplied } from './kubernetes/errors.ts';
import {
  assertWritable,
  fingerprintOf,
  LAYER_NAME,
  TrafficDriftError,
  TrafficRejectedError,
  type HealthReport,
  type KubeRouteSnapshot,
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

export interface KubeRouteOptions {
  kind: RouteKind;
  api: RouteApi;
  /** The kubeconfig context, for the lock key (the same route name on two clusters is two routes). */
  context?: string;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
  now?: () => Date;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class KubeRouteTrafficAdapter implements TrafficPort {
  readonly layer: 'gateway' | 'istio';
  readonly resource: string;
  readonly lockKey: string;
  #kind: RouteKind;
  #api: RouteApi;
  #log: Logger;
  #sleep: (ms: number) => Promise<void>;
  #now: () => Date;

  constructor(opts: KubeRouteOptions) {
    this.#kind = opts.kind;
    this.#api = opts.api;
    this.#log = opts.log;
    this.#sleep = opts.sleep ?? realSleep;
    this.#now = opts.now ?? (() => new Date());
    this.layer = opts.kind.layer;
    this.resource = `${opts.kind.kind} ${opts.kind.namespace}/${opts.kind.name}`;
    this.lockKey = `k8s:${opts.context ?? ''}:${opts.kind.plural}:${opts.kind.namespace}/${opts.kind.name}`;
  }

  #stateOf(obj: KubeObject): TrafficState {
    const kind = this.#kind;
    const resourceVersion = obj.metadata?.resourceVersion;
    if (!resourceVersion) {
      throw new ExternalServiceError(
        'Kubernetes',
        `${this.resource} came back without metadata.resourceVersion`,
      );
    }
    const route = kind.routeLabel(obj);
    const destinations = kind.destinations(obj);
    const legacy = destinations.find((d) => d.id === kind.legacyId);
    const cloud = destinations.find((d) => d.id === kind.cloudId);
    if (!legacy || !cloud) throw new Error(`${this.resource} rule ${route} lost a destination`);
    const snapshot: KubeRouteSnapshot = {
      kind: kind.layer,
      namespace: kind.namespace,
      name: kind.name,
      resourceVersion,
      route,
      destinations,
    };
    const side = (d: { id: string; weight: number }) => ({ id: d.id, weight: d.weight, target: d.id });
    return {
      layer: kind.layer,
      // The card shows the version it is bound to: the approval hash covers it, and execution refuses any other.
      resource: `${this.resource}, rule ${route} at resourceVersion ${resourceVersion}`,
      legacy: side(legacy),
      cloud: side(cloud),
      others: destinations.filter((d) => d !== legacy && d !== cloud).map(side),
      maxWeight: kind.maxWeight,
      convergence: {
        seconds: 0,
        basis: `each new request once the ${kind.layer === 'istio' ? 'sidecars and gateways' : 'gateway'} picked up the route (seconds); open keep-alive connections stay where they are`,
      },
      healthChecks: false,
      // The resourceVersion is in: any edit of the route since it was read (not only the weights) refuses the shift.
      fingerprint: fingerprintOf({ resourceVersion, route, destinations }),
      snapshot,
    };
  }

  async read(): Promise<TrafficState> {
    return this.#stateOf(await this.#api.get(this.#kind));
  }

  async #endpoints(id: string): Promise<{ count?: EndpointCount; detail: string; note?: string }> {
    const service = this.#kind.serviceOf(id);
    if (!service)
      return { detail: `${id} is not a Service of this cluster, so its endpoints cannot be read` };
    const count = await this.#api.endpoints(service.namespace, service.name);
    const where = `Service ${service.namespace}/${service.name}`;
    const detail =
      count.slices === 0
        ? `${where} has no EndpointSlices (no pod matches its selector)`
        : `${count.ready} of ${count.total} endpoints of ${where} are ready`;
    return { count, detail, ...(service.note ? { note: service.note } : {}) };
  }

  async checkLegacyHealth(state: TrafficState): Promise<HealthReport> {
    let seen;
    try {
      seen = await this.#endpoints(state.legacy.id);
    } catch (err) {
      return { status: 'unknown', detail: `could not read the legacy endpoints (${(err as Error).message})` };
    }
    const detail = `${seen.detail}${seen.note ? ` (${seen.note})` : ''}`;
    if (!seen.count) return { status: 'unknown', detail };
    return { status: seen.count.ready > 0 ? 'healthy' : 'unhealthy', detail };
  }

  async shift(expected: TrafficState, to: Weights, _opts: ShiftOptions): Promise<ShiftReceipt> {
    const snap = expected.snapshot;
    if (snap.kind !== this.#kind.layer) throw new Error(`not a ${this.#kind.kind} state`);
    assertWritable(to, expected.others, this.#kind.maxWeight);
    if (this.layer === 'istio' && expected.others.some((o) => o.weight > 0)) {
      throw new TrafficRejectedError(
        'istio',
        'WeightsNot100',
        `rule ${snap.route} also sends to ${expected.others.map((o) => `${o.id} (weight ${o.weight})`).join(', ')}; Istio needs the weights of a route to add up to 100, so the bot will not write only legacy and cloud. Set the others to 0 first.`,
      );
    }
    // Start from the object as it is now, and only if it is still exactly the version the card was based on.
    const now = await this.#api.get(this.#kind);
    const seenVersion = now.metadata?.resourceVersion;
    if (seenVersion !== snap.resourceVersion) {
      throw new TrafficDriftError(
        this.layer,
        `${this.resource} was edited since it was read (resourceVersion ${snap.resourceVersion} -> ${seenVersion}); nothing was written`,
      );
    }
    const body = this.#kind.withWeights(now, {
      [this.#kind.legacyId]: to.legacy,
      [this.#kind.cloudId]: to.cloud,
    });
    const before = { legacy: expected.legacy.weight, cloud: expected.cloud.weight };
    const receipt = (fingerprint: string | undefined, observed?: string): ShiftReceipt => ({
      layer: this.layer,
      resource: this.resource,
      before,
      after: to,
      status: 'INSYNC',
      submittedAt: this.#now().toISOString(),
      attempts: 1,
      ...(fingerprint ? { fingerprint } : {}),
      ...(observed ? { observed } : {}),
    });
    try {
      const written = await this.#api.replace(this.#kind, body);
      return receipt(written.metadata?.resourceVersion ? this.#stateOf(written).fingerprint : undefined);
    } catch (err) {
      if (err instanceof KubernetesError && err.reason === 'conflict') {
        throw new TrafficDriftError(
          this.layer,
          `the API server refused the write because ${this.resource} changed between read and write (409 Conflict on resourceVersion ${snap.resourceVersion}); nothing was written`,
          err.message,
        );
      }
      if (err instanceof KubernetesError && err.reason === 'invalid') {
        throw new TrafficRejectedError(this.layer, `HTTP ${err.status ?? 422}`, err.message);
      }
      if (!mayHaveApplied(err)) throw err;
      const failure = `update of ${this.resource} failed (${(err as Error).message})`;
      this.#log.warn({ resource: this.resource }, 'route write outcome uncertain; reading it back');
      const seen = await observeAfterFailure({
        service: 'Kubernetes',
        failure,
        read: () => this.read(),
        verdict: (s) =>
          s.legacy.weight === to.legacy && s.cloud.weight === to.cloud
            ? 'applied'
            : s.snapshot.kind === snap.kind &&
                'resourceVersion' in s.snapshot &&
                s.snapshot.resourceVersion === snap.resourceVersion
              ? 'untouched'
              : 'moved',
        sleep: this.#sleep,
      });
      const shown = `legacy ${seen.current.legacy.weight} / cloud ${seen.current.cloud.weight}`;
      if (seen.verdict === 'applied') {
        return receipt(
          seen.current.fingerprint,
          `${failure}, but the route read back shows ${shown} as asked: the change was applied`,
        );
      }
      if (seen.verdict === 'untouched') {
        throw new NotWrittenError(
          'Kubernetes',
          `${failure}; the route read back is still at resourceVersion ${snap.resourceVersion} (${shown}), so nothing was written`,
          err,
        );
      }
      throw new TrafficDriftError(
        this.layer,
        `${failure}; the route read back shows ${shown} at a new resourceVersion, neither what was read nor what was asked: someone else changed it`,
      );
    }
  }

  async syncStatus(): Promise<'PENDING' | 'INSYNC'> {
    return 'INSYNC';
  }

  async waitInSync(): Promise<SyncResult> {
    return inSyncNow(this.#now);
  }

  recheck(receipt: Pick<ShiftReceipt, 'before' | 'after'>): Promise<RecheckReport> {
    return recheckByReading(() => this.read(), receipt);
  }

  async checks(state: TrafficState): Promise<LayerCheck[]> {
    const lines: string[] = [];
    let status: LayerCheck['status'] = 'pass';
    for (const side of ['legacy', 'cloud'] as const) {
      try {
        const seen = await this.#endpoints(state[side].id);
        lines.push(`${side}: ${seen.detail}${seen.note ? ` (${seen.note})` : ''}`);
        if (!seen.count) {
          if (status === 'pass') status = 'warn';
        } else if (side === 'legacy' && seen.count.ready === 0) status = 'fail';
      } catch (err) {
        lines.push(`${side}: ${(err as Error).message}`);
        if (status === 'pass') status = 'warn';
      }
    }
    return [
      {
        id: 'route-backends',
        title: `${LAYER_NAME[this.layer]} backends have ready endpoints`,
        status,
        detail: `${state.resource}: ${lines.join('; ')}`,
        ...(status === 'pass'
          ? {}
          : {
              fix: 'A shift refuses to send traffic to a legacy Service with no ready endpoint: scale legacy up (or fix its selector) before the migration.',
            }),
      },
    ];
  }
}
