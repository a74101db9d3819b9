// Drills running in this bot, and the routing that keeps them apart from production: a drill incident's service,
// kube context, Prometheus URL, ledger and evidence resolve to the drill's OWN adapter set (built against the
// simulators), never to the real one; and every message posted in a drill's channel says DRILL.
import type { Adapters } from '../../src/deps.ts';
import { wrapChat, type Chat, type Message } from '../../src/chat/chat.ts';
import type { EvidenceStore } from '../../src/adapters/evidence/store.ts';
import { KubernetesError, type KubernetesClusters } from '../../src/adapters/kubernetes/types.ts';
import type { Prometheus, PrometheusEndpoint } from '../../src/adapters/prometheus.ts';
import type { DrillWorld } from '../../src/startup.ts';
import type { LedgerAdapters } from '../../src/ledger.ts';
import type { Actor } from '../../src/timeline.ts';
import type { Deps } from '../../src/deps.ts';
import { drillAdapters, drillService } from './service.ts';
import {
  DrillGoneError,
  endRecord,
  hostAlive,
  installTraffic,
  readRecord,
  remoteEndpoints,
  type DrillRecord,
  type HeartbeatTiming,
} from './remote.ts';

export const DRILL_MARK = '🧪 DRILL';
const DRILL_NOTE = `${DRILL_MARK}: a rehearsal against a simulated cloud; nothing real is touched.`;

/** What routing needs to adopt a drill another replica started. */
type RoutingDeps = Pick<Deps, 'store' | 'config' | 'metrics' | 'log' | 'adapters'>;

export interface ActiveDrill {
  /** "drill-3": the drill's number in this bot. */
  id: string;
  channel: string;
  /** The service the drill incident is declared for, e.g. payments-drill-3 (it exists only in this drill). */
  service: string;
  /** The kubeconfig context name the drill service's config names. */
  context: string;
  incidentId?: string;
  world: DrillWorld;
  /** The drill's own adapters, built from a config that names only the drill service and an env of the sims. */
  adapters: Adapters;
  startedAt: Date;
  startedBy: Actor;
  timeFactor: number;
  /** Where the drill's evidence goes (a temporary directory). */
  evidenceDir: string;
  /** Resolves once every simulator event told so far is on the timeline. */
  flush(): Promise<unknown>;
  /** What the store says of it (for the other replicas), and the heartbeat that says its world is still here. */
  record?: DrillRecord;
  stopHeartbeat?: () => void;
}

/** A drill another replica hosts: its own adapters built here from the endpoints in the store. */
export interface RemoteDrill {
  record: DrillRecord;
  adapters: Adapters;
  evidenceDir: string;
  /** Set once the host is gone or the drill stopped: every drill adapter refuses with it. */
  gone?: DrillGoneError;
}

/** Does this evidence key belong to the incident (keys start with the incident id)? */
function ofIncident(key: string, incidentId: string): boolean {
  return key.startsWith(`${incidentId}/`);
}

export interface DrillsOptions {
  postgresUrl?: string;
  everywhere?: boolean;
  bind?: { host: string; advertise: string };
  /** false: no embedded PostgreSQL when `postgresUrl` cannot be used (the ledger then says what is missing). */
  embeddedLedger?: false;
  /** The hosting replica's heartbeat (default 15 s TTL, every 5 s). */
  heartbeat?: HeartbeatTiming;
  /** How long the drill cluster's exec takes to start (default 400 ms). */
  execStartMs?: number;
}

export class Drills {
  constructor(opts: DrillsOptions = {}) {
    this.postgresUrl = opts.postgresUrl;
    this.everywhere = opts.everywhere ?? false;
    this.bind = opts.bind;
    this.embeddedLedger = opts.embeddedLedger;
    this.heartbeat = opts.heartbeat;
    this.execStartMs = opts.execStartMs;
  }
  readonly embeddedLedger: false | undefined;
  readonly execStartMs: number | undefined;
  readonly heartbeat: HeartbeatTiming | undefined;
  /** Where drills' simulators listen and the name other replicas reach them by (CLOUD_SAFETY_DRILL_BIND). */
  readonly bind: { host: string; advertise: string } | undefined;
  readonly #active = new Map<string, ActiveDrill>();
  /** Services of drills (running or ended), so a late evidence write of an ended drill still stays local. */
  readonly #services = new Map<string, ActiveDrill>();
  /** Drills hosted by other replicas, by service, adopted when this replica first meets their service. */
  readonly #remote = new Map<string, RemoteDrill>();
  readonly #adopting = new Map<string, Promise<void>>();
  #deps: RoutingDeps | undefined;
  /** The console drill world: every channel is a drill. */
  everywhere = false;
  /** The PostgreSQL drills create their ledger databases on (CLOUD_SAFETY_DRILL_POSTGRES_URL). */
  postgresUrl: string | undefined;
  /** Looks up an incident's service (set by the drill step at register time). */
  serviceOf: (incidentId: string) => Promise<string | undefined> = async () => undefined;

  inChannel(channel: string): ActiveDrill | undefined {
    return this.#active.get(channel);
  }

  all(): ActiveDrill[] {
    return [...this.#active.values()];
  }

  forService(service: string): ActiveDrill | undefined {
    return this.#services.get(service);
  }

  /** Registers a drill before its incident exists, so nothing about it can reach a real endpoint. */
  add(drill: ActiveDrill): void {
    this.#active.set(drill.channel, drill);
    this.#services.set(drill.service, drill);
  }

  /** Stops every running drill's world (shutdown): its servers close and its ledger databases are dropped. */
  async stopAll(): Promise<void> {
    for (const drill of this.all()) {
      this.end(drill);
      // The other replicas learn at once that this drill's world goes away with this process.
      if (drill.record && this.#deps) await endRecord(this.#deps.store, drill.record, false).catch(() => {});
      await drill.world.stop().catch(() => {});
    }
  }

  /** The drill no longer runs in its channel; its service stays routed to its (stopped) adapters. */
  end(drill: ActiveDrill): void {
    this.#active.delete(drill.channel);
    drill.stopHeartbeat?.();
  }

  /** The bot's deps, for adopting drills other replicas host (the drill step's register). */
  attach(deps: RoutingDeps): void {
    this.#deps = deps;
  }

  /** Which drill an incident belongs to: by id once known, else by the service it was declared for. */
  async forIncident(incidentId: string): Promise<{ adapters: Adapters } | undefined> {
    for (const drill of this.#services.values()) if (drill.incidentId === incidentId) return drill;
    const service = await this.serviceOf(incidentId);
    return service ? (this.#services.get(service) ?? this.#remote.get(service)) : undefined;
  }

  /**
   * Meets a service this replica does not know: when the store records it as a drill hosted elsewhere, builds the
   * drill's own adapters from its endpoints and routes the service to them (or, once the host is gone, to a
   * refusal saying so). Called before any command or button reaches a flow; a real service costs nothing.
   */
  async adopt(service: string): Promise<void> {
    const deps = this.#deps;
    if (!deps || this.#services.has(service)) return;
    if (!this.#remote.has(service) && deps.config.services[service]) return;
    const pending = this.#adopting.get(service);
    if (pending) return pending;
    const run = this.#adopt(deps, service).finally(() => this.#adopting.delete(service));
    this.#adopting.set(service, run);
    return run;
  }

  async #adopt(deps: RoutingDeps, service: string): Promise<void> {
    const record = await readRecord(deps.store, service);
    if (!record) return;
    const alive = await hostAlive(deps.store, record);
    let remote = this.#remote.get(service);
    if (!remote) {
      const section = drillService(
        {
          app: record.app,
          prometheusUrl: record.prometheusUrl,
          ...(record.cdc ? { cdc: record.cdc } : {}),
        },
        record.channel,
        record.context,
      );
      const built = drillAdapters(
        deps.config,
        service,
        section,
        remoteEndpoints(record),
        deps.metrics,
        deps.log,
      );
      remote = { record, ...built };
      deps.config.services[service] = section;
      this.#remote.set(service, remote);
      this.#installRouters(deps.adapters);
    }
    remote.record = record;
    if (alive) delete remote.gone;
    else remote.gone = new DrillGoneError(record);
    installTraffic(deps.adapters, service, remote.adapters, remote.gone);
  }

  /** A remote drill's adapters, or its refusal once its world is gone. */
  #remoteAdapters(remote: RemoteDrill): Adapters {
    if (remote.gone) throw remote.gone;
    return remote.adapters;
  }

  /** Finds the service of a channel's latest incident (set by the drill step at register time). */
  latestServiceIn: (channel: string) => Promise<string | undefined> = async () => undefined;

  /**
   * Is a message to this channel about a drill? While a drill runs there, and afterwards as long as the channel's
   * latest incident is a drill's (its headline edits, the score, the post-mortem); a real incident declared there
   * later is not marked.
   */
  async isDrillChannel(channel: string): Promise<boolean> {
    if (this.everywhere || this.#active.has(channel)) return true;
    if (this.#services.size === 0 && this.#remote.size === 0) return false;
    const service = await this.latestServiceIn(channel);
    return service !== undefined && (this.#services.has(service) || this.#remote.has(service));
  }

  /**
   * Wraps the evidence store at build time (the incident flow keeps a reference to it): a drill incident's keys go
   * to the drill's local directory.
   */
  routeEvidence(adapters: Adapters): Adapters {
    const base = adapters.evidence;
    if (!base) return adapters;
    const pick = async (key: string): Promise<EvidenceStore> => {
      const id = key.split('/')[0] ?? '';
      const drill = await this.forIncident(id);
      return drill?.adapters.evidence && ofIncident(key, id) ? drill.adapters.evidence : base;
    };
    const routed: EvidenceStore = {
      kind: base.kind,
      location: base.location,
      create: async (key, opts) => (await pick(key)).create(key, opts),
      putRecord: async (key, text) => (await pick(key)).putRecord(key, text),
      getRecord: async (key) => (await pick(key)).getRecord(key),
    };
    adapters.evidence = routed;
    return adapters;
  }

  /**
   * Installs the drill's adapters beside the real ones, chosen by what the drill service's config names (its
   * service, its kube context, its Prometheus URL). Called when a drill starts; the real adapters are untouched.
   */
  install(target: Adapters, drill: ActiveDrill): void {
    installTraffic(target, drill.service, drill.adapters);
    this.#installRouters(target);
  }

  #installRouters(target: Adapters): void {
    if (!routed.has(target.kubernetes ?? {})) target.kubernetes = this.#kubernetes(target.kubernetes);
    if (!routed.has(target.ledger ?? {})) target.ledger = this.#ledger(target.ledger);
    if (!routed.has(target.prometheus ?? {})) target.prometheus = this.#prometheus(target.prometheus);
  }

  #kubernetes(base: KubernetesClusters | undefined): KubernetesClusters {
    const router: KubernetesClusters = {
      cluster: (context) => {
        const drill = [...this.#services.values()].find((d) => d.context === context);
        if (drill?.adapters.kubernetes) return drill.adapters.kubernetes.cluster();
        const remote = [...this.#remote.values()].find((r) => r.record.context === context);
        if (remote) {
          const own = this.#remoteAdapters(remote).kubernetes;
          if (!own) throw new Error(`drill ${remote.record.id} has no Kubernetes adapter`);
          return own.cluster();
        }
        if (base) return base.cluster(context);
        throw new KubernetesError('other', 'no Kubernetes is configured for this service', {
          verb: 'connect',
          resource: 'cluster',
        });
      },
    };
    routed.add(router);
    return router;
  }

  #ledger(base: LedgerAdapters | undefined): LedgerAdapters {
    const router: LedgerAdapters = {
      get: (service) => {
        const drill = this.#services.get(service);
        if (drill) return drill.adapters.ledger?.get(service);
        const remote = this.#remote.get(service);
        return remote ? this.#remoteAdapters(remote).ledger?.get(service) : base?.get(service);
      },
      check: () => base?.check(),
      close: async () => {
        await Promise.allSettled([
          base?.close(),
          ...[...this.#services.values(), ...this.#remote.values()].map((d) => d.adapters.ledger?.close()),
        ]);
      },
    };
    routed.add(router);
    return router;
  }

  #prometheus(base: Prometheus | undefined): Prometheus {
    const pick = (endpoint: PrometheusEndpoint): Prometheus => {
      const drill = [...this.#services.values()].find((d) => endpoint.url.startsWith(d.world.prometheusUrl));
      const remote = [...this.#remote.values()].find((r) => endpoint.url.startsWith(r.record.prometheusUrl));
      const chosen = drill
        ? drill.adapters.prometheus
        : remote
          ? this.#remoteAdapters(remote).prometheus
          : base;
      if (!chosen) throw new Error(`no Prometheus client for ${endpoint.url}`);
      return chosen;
    };
    const router: Prometheus = {
      queryRange: (endpoint, query, range) => pick(endpoint).queryRange(endpoint, query, range),
      query: (endpoint, query) => pick(endpoint).query(endpoint, query),
    };
    routed.add(router);
    return router;
  }

  /** Every card and message posted in a drill's channel carries DRILL, in its text and as its first block. */
  markChat(chat: Chat): Chat {
    const mark = async (channel: string, message: Message): Promise<Message> =>
      (await this.isDrillChannel(channel)) ? marked(message) : message;
    return wrapChat(chat, {
      post: async (channel, message, opts) => chat.post(channel, await mark(channel, message), opts),
      update: async (ref, message) => chat.update(ref, await mark(ref.channel, message)),
      postEphemeral: async (channel, user, message) =>
        chat.postEphemeral(channel, user, await mark(channel, message)),
      upload: async (channel, file, opts) =>
        chat.upload(
          channel,
          (await this.isDrillChannel(channel))
            ? { ...file, comment: `${DRILL_MARK} · ${file.comment ?? ''}` }
            : file,
          opts,
        ),
    });
  }
}

/** Routers already installed (so a second drill does not wrap the router again). */
const routed = new WeakSet<object>();

/** The message with DRILL in its fallback text (after a leading <!here>) and a context block on top. */
export function marked(message: Message): Message {
  if (message.text.includes(DRILL_MARK)) return message;
  const page = /^<!here> /.exec(message.text)?.[0] ?? '';
  const text = `${page}${DRILL_MARK} · ${message.text.slice(page.length)}`;
  // Slack takes 50 blocks at most; a full card keeps DRILL in its text.
  if (!message.blocks || message.blocks.length === 0 || message.blocks.length >= 50)
    return { ...message, text };
  return {
    ...message,
    text,
    blocks: [{ type: 'context', elements: [{ type: 'mrkdwn', text: `*${DRILL_NOTE}*` }] }, ...message.blocks],
  };
}
