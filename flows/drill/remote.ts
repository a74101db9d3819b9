// A drill's world runs in the replica that started it; the store says where. The hosting replica records the drill
// (id, channel, service, scenario, the simulators' endpoints) and keeps a heartbeat; another replica that meets the
// drill's service builds the drill's own adapter set from those endpoints (never the real ones), and once the host
// is gone its adapters refuse with a message that says so and how to start again.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Adapters } from '../../src/deps.ts';
import type { ServiceTraffic } from '../../src/adapters/traffic.ts';
import { UsageError } from '../../src/errors.ts';
import type { Store } from '../../src/store/store.ts';
import type { DrillWorld } from '../../src/startup.ts';

export interface DrillRecord {
  id: string;
  channel: string;
  service: string;
  /** The scenario's app name (payments), for the drill service's config. */
  app: string;
  context: string;
  scenario: string;
  timeFactor: number;
  /** The instance id of the replica whose process runs the simulators. */
  host: string;
  startedAt: string;
  incidentId?: string;
  stopped?: boolean;
  /** The simulators' endpoints: the env the production adapters read, the kubeconfig, Prometheus, the ledgers. */
  env: Record<string, string>;
  kubeconfig: string;
  prometheusUrl: string;
  /** The simulated Kafka Connect running the ledger's CDC connector. */
  cdc?: { url: string; connector: string };
  ledger: { legacy: string; cloud: string };
}

/** How long a drill's world counts as alive after its host's last heartbeat, and how often the host beats. */
export const HEARTBEAT_TTL_MS = 15_000;
export const HEARTBEAT_EVERY_MS = 5_000;

/** A heartbeat's TTL and period (tests that wait for a host's heartbeat to lapse shorten both). */
export interface HeartbeatTiming {
  ttlMs: number;
  everyMs: number;
}

const recordKey = (service: string) => `drill:service:${service}`;
const channelKey = (channel: string) => `drill:channel:${channel}`;
const hostKey = (id: string) => `drill:host:${id}`;

export function recordOf(
  drill: {
    id: string;
    channel: string;
    service: string;
    context: string;
    timeFactor: number;
    startedAt: Date;
  },
  world: DrillWorld,
  host: string,
): DrillRecord {
  const { KUBECONFIG: _local, ...env } = world.env;
  return {
    id: drill.id,
    channel: drill.channel,
    service: drill.service,
    app: world.scenario.service,
    context: drill.context,
    scenario: world.scenario.name,
    timeFactor: drill.timeFactor,
    host,
    startedAt: drill.startedAt.toISOString(),
    env,
    kubeconfig: world.cluster.kubeConfig().exportConfig(),
    prometheusUrl: world.prometheusUrl,
    cdc: { url: world.cdc.url, connector: world.cdc.connector },
    ledger: { legacy: world.ledger.legacy, cloud: world.ledger.cloud },
  };
}

export async function saveRecord(store: Store, record: DrillRecord): Promise<void> {
  await store.set(recordKey(record.service), JSON.stringify(record));
  await store.set(channelKey(record.channel), record.service);
}

export async function readRecord(store: Store, service: string): Promise<DrillRecord | undefined> {
  const raw = await store.get(recordKey(service));
  return raw ? (JSON.parse(raw) as DrillRecord) : undefined;
}

/** The drill last started in a channel, whichever replica hosts it. */
export async function recordInChannel(store: Store, channel: string): Promise<DrillRecord | undefined> {
  const service = await store.get(channelKey(channel));
  return service ? readRecord(store, service) : undefined;
}

/** Beats now and every HEARTBEAT_EVERY_MS (or `timing.everyMs`) until the returned stop is called. */
export function startHeartbeat(
  store: Store,
  record: DrillRecord,
  onError: (err: unknown) => void,
  timing: HeartbeatTiming = { ttlMs: HEARTBEAT_TTL_MS, everyMs: HEARTBEAT_EVERY_MS },
): () => void {
  const beat = () =>
    store.set(hostKey(record.id), record.host, { ttlMs: timing.ttlMs }).catch(onError) as Promise<unknown>;
  void beat();
  const timer = setInterval(() => void beat(), timing.everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The host stopped the drill (or shut down): the world is gone now, not after the heartbeat's TTL. */
export async function endRecord(store: Store, record: DrillRecord, stopped: boolean): Promise<void> {
  await store.del(hostKey(record.id));
  if (stopped) await store.set(recordKey(record.service), JSON.stringify({ ...record, stopped: true }));
}

/** Is the drill's world still running in its host? */
export async function hostAlive(store: Store, record: DrillRecord): Promise<boolean> {
  return !record.stopped && (await store.get(hostKey(record.id))) === record.host;
}

/** What a replica says when the drill's world is not there to act on. */
export class DrillGoneError extends UsageError {
  constructor(record: DrillRecord) {
    super(
      record.stopped
        ? `Drill ${record.id} was stopped: its simulated world is gone, so nothing was done (and nothing real was touched). Start a new drill with \`/drill start [scenario]\`.`
        : `Drill ${record.id}'s simulated world went away with replica ${record.host}, which ran it (restarted or stopped); nothing was done, and nothing real was touched. \`/drill stop\` scores and closes this drill; \`/drill start [scenario]\` starts a new one.`,
    );
  }
}

/** The env and kubeconfig another replica gives the production builder: only the drill's endpoints. */
export function remoteEndpoints(record: DrillRecord): {
  env: Record<string, string>;
  ledger: { legacy: string; cloud: string };
} {
  const dir = mkdtempSync(join(tmpdir(), 'cs-drill-remote-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, record.kubeconfig, { mode: 0o600 });
  return { env: { ...record.env, KUBECONFIG: kubeconfig }, ledger: record.ledger };
}

/** A traffic port that refuses every call with `err` (the drill's Route 53 went away with its host). */
function refusing(err: Error): ServiceTraffic {
  const port = new Proxy(
    {},
    {
      get: (_target, prop) =>
        prop === 'then'
          ? undefined
          : () => {
              throw err;
            },
    },
  );
  return { route53: port as NonNullable<ServiceTraffic['route53']> };
}

/** Points `target`'s traffic for the drill service at the drill's own, or at a refusal once the world is gone. */
export function installTraffic(target: Adapters, service: string, own: Adapters, gone?: Error): void {
  target.traffic = { ...target.traffic };
  const traffic = gone ? refusing(gone) : own.traffic?.[service];
  if (traffic) target.traffic[service] = traffic;
}
