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

export const DRILL_MARK = '🧪 DRILL';
const DRILL_NOTE = `${DRILL_MARK}: a rehearsal against a simulated cloud; nothing real is touched.`;

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
}

/** Does this evidence key belong to the incident (keys start with the incident id)? */
function ofIncident(key: string, incidentId: string): boolean {
  return key.startsWith(`${incidentId}/`);
}

export class Drills {
  constructor(opts: { postgresUrl?: string; everywhere?: boolean } = {}) {
    this.postgresUrl = opts.postgresUrl;
    this.everywhere = opts.everywhere ?? false;
  }
  readonly #active = new Map<string, ActiveDrill>();
  /** Services of drills (running or ended), so a late evidence write of an ended drill still stays local. */
  readonly #services = new Map<string, ActiveDrill>();
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
      await drill.world.stop().catch(() => {});
    }
  }

  /** The drill no longer runs in its channel; its service stays routed to its (stopped) adapters. */
  end(drill: ActiveDrill): void {
    this.#active.delete(drill.channel);
  }

  /** Which drill an incident belongs to: by id once known, else by the service it was declared for. */
  async forIncident(incidentId: string): Promise<ActiveDrill | undefined> {
    for (const drill of this.#services.values()) if (drill.incidentId === incidentId) return drill;
    const service = await this.serviceOf(incidentId);
    return service ? this.#services.get(service) : undefined;
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
    if (this.#services.size === 0) return false;
    const service = await this.latestServiceIn(channel);
    return service !== undefined && this.#services.has(service);
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
    target.traffic = { ...target.traffic };
    const traffic = drill.adapters.traffic?.[drill.service];
    if (traffic) target.traffic[drill.service] = traffic;
    if (!routed.has(target.kubernetes ?? {})) target.kubernetes = this.#kubernetes(target.kubernetes);
    if (!routed.has(target.ledger ?? {})) target.ledger = this.#ledger(target.ledger);
    if (!routed.has(target.prometheus ?? {})) target.prometheus = this.#prometheus(target.prometheus);
  }

  #kubernetes(base: KubernetesClusters | undefined): KubernetesClusters {
    const router: KubernetesClusters = {
      cluster: (context) => {
        const drill = [...this.#services.values()].find((d) => d.context === context);
        if (drill?.adapters.kubernetes) return drill.adapters.kubernetes.cluster();
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
        return drill ? drill.adapters.ledger?.get(service) : base?.get(service);
      },
      check: () => base?.check(),
      close: async () => {
        await Promise.allSettled([
          base?.close(),
          ...[...this.#services.values()].map((d) => d.adapters.ledger?.close()),
        ]);
      },
    };
    routed.add(router);
    return router;
  }

  #prometheus(base: Prometheus | undefined): Prometheus {
    const pick = (endpoint: PrometheusEndpoint): Prometheus => {
      const drill = [...this.#services.values()].find((d) => endpoint.url.startsWith(d.world.prometheusUrl));
      const chosen = drill ? drill.adapters.prometheus : base;
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
