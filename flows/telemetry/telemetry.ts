// Step L: snapshot the failing workload, keep evidence from the worst pods, quarantine (approved) and release them.
import { randomUUID } from 'node:crypto';
import type { ActionResult } from '../../src/actions.ts';
import { KubernetesError, type Kubernetes } from '../../src/adapters/kubernetes/types.ts';
import type { EvidenceStore } from '../../src/adapters/evidence/store.ts';
import type { Message } from '../../src/chat/chat.ts';
import { errorMessage, notice } from '../../src/chat/blocks/common.ts';
import { quarantineView, snapshotMessage, snapshotSummary } from './blocks.ts';
import { renderBarChart, renderLineChart, type Series } from '../../src/chart/png.ts';
import { resolveSecret, type KubernetesSection } from '../../src/config.ts';
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { ConfigError, UsageError } from '../../src/errors.ts';
import {
  DEBUG_CONTAINER_ADDED,
  PODS_QUARANTINED,
  PODS_RELEASED,
  TELEMETRY_FAILED,
  WORKLOAD_SNAPSHOT,
  type QuarantineEventData,
} from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';
import {
  ANNOTATION,
  QUARANTINE_LABEL,
  buildSnapshot,
  capturable,
  incidentSlug,
  quarantineAllowance,
  selectorKeys,
  selectorMatches,
  type PodInfo,
  type PodRow,
  type WorkloadSnapshot,
} from '../../src/workload.ts';
import { CaptureRun } from './capture.ts';

export const QUARANTINE_KIND = 'pods.quarantine';
const EXPIRY_QUEUE = 'telemetry-quarantine-expiry';
const DEFAULT_PODS = 2;
const EVENTS_SINCE_MS = 60 * 60_000;

export interface QuarantineBasis {
  pods: { name: string; uid: string; ready: boolean; node?: string; percent?: number }[];
  readyTotal: number;
  otherPolicies: string[];
}

export interface QuarantineChange {
  service: string;
  namespace: string;
  pods: { name: string; removeLabels: string[] }[];
  label: { key: string; value: string };
  policy: string;
  forensicsNamespace?: string;
  ttlMs: number;
  onExpiry: 'return' | 'delete';
  /** Take the runtime dumps from the pods once isolated. */
  captureAfter: boolean;
}

interface Workload {
  cfg: KubernetesSection;
  cluster: Kubernetes;
  evidence: EvidenceStore;
}

/** The service's Kubernetes section and adapters, or a message saying what to configure. */
/** The service's kubernetes section, or a message saying how to add one. Touches no cluster. */
export function kubernetesSection(deps: Deps, service: string): KubernetesSection {
  const cfg = deps.config.services[service]?.kubernetes;
  if (!cfg) {
    throw new UsageError(
      `${service} has no kubernetes section in cloud-safety.yml, so there is no workload to inspect. Add services.${service}.kubernetes (namespace, selector, container, runtime); see docs/telemetry.md.`,
    );
  }
  return cfg;
}

export function workloadOf(deps: Deps, service: string): Workload {
  const cfg = kubernetesSection(deps, service);
  const { kubernetes, evidence } = deps.adapters;
  if (!kubernetes || !evidence) {
    throw new ConfigError('The Kubernetes adapter or the evidence store is not built; this is a wiring bug.');
  }
  return { cfg, cluster: kubernetes.cluster(cfg.context), evidence };
}

export function policyName(incidentId: string): string {
  return `cloud-safety-quarantine-${incidentSlug(incidentId)}`;
}

function expiryMember(incidentId: string, service: string): string {
  return `${incidentId}|${service}`;
}

function rowsByName(rows: PodRow[]): Map<string, PodRow> {
  return new Map(rows.map((r) => [r.name, r]));
}

export interface TelemetryRequest {
  incident: Incident;
  service: string;
  actor: Actor;
  pods?: number;
  quarantine?: number;
  respond(message: Message): Promise<void>;
}

/** /telemetry: snapshot, then evidence from the worst pods, then (asked) a quarantine request; dumps last. */
export async function runTelemetry(deps: Deps, req: TelemetryRequest): Promise<void> {
  const { cfg, cluster, evidence } = workloadOf(deps, req.service);
  const { incident, actor } = req;
  let snapshot: WorkloadSnapshot;
  let events;
  let pods: PodInfo[];
  try {
    pods = await cluster.listPods(cfg.namespace, cfg.selector, cfg.container);
    if (pods.length === 0) {
      await deps.incidents.record(incident.id, {
        step: 'L',
        kind: WORKLOAD_SNAPSHOT,
        actor,
        summary: `No pods match ${cfg.selector} in ${cfg.namespace}: nothing to snapshot`,
        data: { service: req.service, namespace: cfg.namespace, selector: cfg.selector, pods: [] },
        stepState: 'in_progress',
      });
      await req.respond(
        errorMessage(
          `No pods match \`${cfg.selector}\` in namespace ${cfg.namespace}, so there is nothing to capture. Check services.${req.service}.kubernetes.selector (kubectl get pods -n ${cfg.namespace} -l '${cfg.selector}'); if the pods were all replaced, their previous state is gone.`,
        ),
      );
      return;
    }
    const [metrics, warnings] = await Promise.all([
      cluster.podMemory(cfg.namespace, cfg.selector, cfg.container),
      cluster.warningEvents(cfg.namespace, new Date(deps.now().getTime() - EVENTS_SINCE_MS)),
    ]);
    events = warnings;
    snapshot = buildSnapshot({
      service: req.service,
      namespace: cfg.namespace,
      selector: cfg.selector,
      container: cfg.container,
      at: deps.now(),
      pods,
      metrics,
      events: warnings,
    });
  } catch (err) {
    await recordFailure(deps, incident, actor, 'snapshot', err);
    throw err;
  }

  const chart = await memoryChart(deps, cfg, snapshot);
  await deps.incidents.record(incident.id, {
    step: 'L',
    kind: WORKLOAD_SNAPSHOT,
    actor,
    summary: snapshotSummary(snapshot),
    data: {
      ...snapshot,
      // The worst pods and latest events; a 300-pod deployment must not make one event megabytes long.
      pods: snapshot.pods.slice(0, 100),
      podCount: snapshot.pods.length,
      events: snapshot.events.slice(0, 50),
      chart: chart.note,
    },
    stepState: 'in_progress',
  });
  await deps.chat.post(incident.channel, snapshotMessage(snapshot, { chartNote: chart.note }));
  if (chart.png) {
    try {
      await deps.chat.upload(incident.channel, {
        filename: `${req.service}-memory-${snapshot.at.replace(/[-:]/g, '').slice(0, 15)}.png`,
        title: `${req.service}: memory % of limit per pod`,
        content: chart.png,
        comment: chart.note,
      });
    } catch (err) {
      deps.log.warn({ err, service: req.service }, 'could not upload the memory chart');
    }
  }

  const candidates = snapshot.pods.filter(capturable);
  if (candidates.length === 0) {
    await req.respond(
      notice(
        `Snapshot posted (${snapshotSummary(snapshot)}). Every pod is being deleted, so there is nothing left to capture: the snapshot and events are the evidence.`,
      ),
    );
    return;
  }

  if (req.quarantine !== undefined) {
    await requestQuarantine(deps, {
      ...req,
      cfg,
      cluster,
      evidence,
      snapshot,
      candidates,
      events,
      infos: pods,
    });
    return;
  }
  const targets = candidates.slice(0, req.pods ?? DEFAULT_PODS);
  await req.respond(
    notice(
      `Snapshot posted (${snapshotSummary(snapshot)}). Keeping evidence from ${targets.map((t) => `\`${t.name}\``).join(', ')}: status, events and previous logs first, then the ${cfg.runtime} dumps from those whose container is running.`,
    ),
  );
  await new CaptureRun(deps, {
    incident,
    service: req.service,
    cfg,
    cluster,
    evidence,
    targets,
    actor,
    basics: true,
    dumps: true,
    events,
  }).run();
}

/** Records a fault (RBAC, API down) on the timeline before the bot replies with it. */
async function recordFailure(
  deps: Deps,
  incident: Incident,
  actor: Actor,
  what: string,
  err: unknown,
): Promise<void> {
  const message = err instanceof Error ? err.message : String(err);
  await deps.incidents.record(incident.id, {
    step: 'L',
    kind: TELEMETRY_FAILED,
    actor,
    summary: `Telemetry ${what} failed: ${message}`,
    data: {
      what,
      reason: message,
      ...(err instanceof KubernetesError
        ? { verb: err.verb, resource: err.resource, status: err.status }
        : {}),
    },
  });
}

/** The chart: memory % of limit over the Prometheus window when configured, else the current values. */
async function memoryChart(
  deps: Deps,
  cfg: KubernetesSection,
  snapshot: WorkloadSnapshot,
): Promise<{ png?: Buffer; note: string }> {
  const prom = cfg.prometheus;
  const names = snapshot.pods.map((p) => p.name);
  if (prom && deps.adapters.prometheus) {
    const end = deps.now();
    const start = new Date(end.getTime() - prom.window);
    const query = prom.query
      .replaceAll('{namespace}', cfg.namespace)
      .replaceAll('{container}', cfg.container)
      .replaceAll('{pods}', names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
    try {
      const series = await deps.adapters.prometheus.queryRange(
        {
          url: prom.url,
          ...(prom.token ? { token: resolveSecret(prom.token, 'kubernetes.prometheus.token') } : {}),
        },
        query,
        { start, end, stepSeconds: Math.max(1, Math.round(prom.step / 1000)) },
      );
      const lines: Series[] = series.map((s) => ({
        name: s.labels.pod ?? JSON.stringify(s.labels),
        points: s.points.filter((p) => Number.isFinite(p.v)),
      }));
      if (lines.some((s) => s.points.length > 0)) {
        return {
          png: renderLineChart({
            title: `${snapshot.service} memory % of limit, last ${formatDuration(prom.window)}`,
            series: lines,
            yLabel: '% of limit',
            yMin: 0,
            thresholds: [{ value: 100, label: 'limit' }],
            formatY: (v) => `${Math.round(v)}%`,
          }),
          note: `Chart: memory % of limit per pod over the last ${formatDuration(prom.window)} (Prometheus)`,
        };
      }
    } catch (err) {
      deps.log.warn(
        { err, service: snapshot.service },
        'prometheus range query failed; charting current values',
      );
      const bars = currentBars(snapshot);
      return {
        ...(bars ? { png: bars } : {}),
        note: `Chart: current values only; Prometheus failed (${(err as Error).message.slice(0, 160)})`,
      };
    }
  }
  const bars = currentBars(snapshot);
  if (!bars) {
    return {
      note: snapshot.metrics.available
        ? 'No chart: no pod has both a memory limit and a metric'
        : 'No chart: memory use is not available (see above)',
    };
  }
  return { png: bars, note: 'Chart: memory % of limit per pod, now (metrics.k8s.io)' };
}

function currentBars(snapshot: WorkloadSnapshot): Buffer | undefined {
  const bars = snapshot.pods
    .filter((p) => p.percent !== undefined)
    .map((p) => ({ label: p.name, value: p.percent ?? 0 }));
  if (bars.length === 0) return undefined;
  return renderBarChart({
    title: `${snapshot.service} memory % of limit, ${snapshot.at.slice(11, 16)}Z`,
    bars,
    thresholds: [{ value: 100, label: 'limit' }],
    formatY: (v) => `${Math.round(v)}%`,
  });
}

async function requestQuarantine(
  deps: Deps,
  req: TelemetryRequest &
    Workload & {
      snapshot: WorkloadSnapshot;
      candidates: PodRow[];
      events: Awaited<ReturnType<Kubernetes['warningEvents']>>;
      infos: PodInfo[];
    },
): Promise<void> {
  const { cfg, cluster, incident, actor, snapshot } = req;
  const wanted = req.quarantine ?? 1;
  const infos = new Map(req.infos.map((p) => [p.name, p]));
  const pods = req.candidates
    .filter((p) => p.quarantined === undefined)
    .map((p) => infos.get(p.name) ?? null);
  const byName = rowsByName(snapshot.pods);
  const eligible: { row: PodRow; pod: PodInfo }[] = [];
  const notes: string[] = [];
  for (const pod of pods) {
    if (!pod) continue;
    const row = byName.get(pod.name);
    if (!row) continue;
    if (pod.owner?.kind !== 'ReplicaSet') {
      notes.push(
        `\`${pod.name}\` is owned by ${pod.owner ? `${pod.owner.kind} ${pod.owner.name}` : 'nothing'}: only ReplicaSet pods can be quarantined (their controller replaces them).`,
      );
      continue;
    }
    eligible.push({ row, pod });
  }
  const readyTotal = snapshot.pods.filter((p) => p.ready && !p.deleting).length;
  const { allowed, readyBudget } = quarantineAllowance(
    eligible.map((e) => e.row),
    readyTotal,
    { max: cfg.maxQuarantine, fraction: cfg.maxQuarantineFraction },
  );
  const chosen = eligible.slice(0, Math.min(allowed, wanted));
  if (chosen.length === 0) {
    const why =
      eligible.length === 0
        ? notes.join(' ') || 'no running pod can be quarantined'
        : `isolating even one ready pod would leave fewer than ${Math.round((1 - cfg.maxQuarantineFraction) * 100)}% of the ${readyTotal} ready pods serving (maxQuarantineFraction ${cfg.maxQuarantineFraction})`;
    await deps.incidents.record(incident.id, {
      step: 'L',
      kind: TELEMETRY_FAILED,
      actor,
      summary: `Quarantine of ${wanted} pod(s) refused: ${why}`,
      data: { what: 'quarantine', reason: why, readyTotal, readyBudget },
    });
    await req.respond(
      errorMessage(
        `Nothing to quarantine: ${why}. The snapshot is posted; run \`/telemetry\` without quarantine= to capture evidence in place.`,
      ),
    );
    return;
  }
  if (chosen.length < wanted) {
    notes.push(
      `You asked for ${wanted}; ${chosen.length} can be isolated (at most ${cfg.maxQuarantine} pods, and at most ${readyBudget} of the ${readyTotal} ready pods).`,
    );
  }

  // Which labels make the Service and the ReplicaSet let go of each pod, and which other policies would still apply.
  const policies = await cluster.networkPolicies(cfg.namespace);
  const label = { key: QUARANTINE_LABEL, value: incident.id };
  const policy = policyName(incident.id);
  const warnings: string[] = [];
  const planned: QuarantineChange['pods'] = [];
  for (const { pod } of chosen) {
    const rsSelector = pod.owner ? await cluster.replicaSetSelector(cfg.namespace, pod.owner.name) : null;
    const services = await cluster.servicesSelecting(cfg.namespace, pod.labels);
    const keys = new Set([
      ...selectorKeys(rsSelector ?? undefined),
      ...services.flatMap((s) => selectorKeys(s.selector)),
    ]);
    const removeLabels = [...keys].filter((k) => Object.hasOwn(pod.labels, k)).sort();
    planned.push({ name: pod.name, removeLabels });
    const after: Record<string, string> = { ...pod.labels, [label.key]: label.value };
    for (const key of removeLabels) delete after[key];
    for (const p of policies) {
      if (p.name !== policy && selectorMatches(p.podSelector, after)) {
        const text = `NetworkPolicy \`${p.name}\` also selects \`${pod.name}\` after relabelling; policies add up, so whatever it allows still reaches the pod.`;
        if (!warnings.includes(text)) warnings.push(text);
      }
    }
    if (removeLabels.length === 0) {
      warnings.push(
        `No Service or ReplicaSet selector label found on \`${pod.name}\`; it may keep receiving traffic.`,
      );
    }
  }
  const otherPolicies = policies
    .filter((p) => p.name !== policy && chosen.some(({ pod }) => selectorMatches(p.podSelector, pod.labels)))
    .map((p) => p.name);
  const basis: QuarantineBasis = {
    pods: chosen.map(({ row }) => ({
      name: row.name,
      uid: row.uid,
      ready: row.ready,
      ...(row.node ? { node: row.node } : {}),
      ...(row.percent !== undefined ? { percent: Math.round(row.percent) } : {}),
    })),
    readyTotal,
    otherPolicies,
  };
  const change: QuarantineChange = {
    service: req.service,
    namespace: cfg.namespace,
    pods: planned,
    label,
    policy,
    ...(cfg.forensicsNamespace ? { forensicsNamespace: cfg.forensicsNamespace } : {}),
    ttlMs: cfg.quarantineTtl,
    onExpiry: cfg.onExpiry,
    captureAfter: true,
  };
  // What can't be lost is kept before anything is isolated.
  const targets = chosen.map(({ row }) => row);
  await req.respond(
    notice(
      `Snapshot posted (${snapshotSummary(snapshot)}). Keeping status, events and previous logs of ${targets.map((t) => `\`${t.name}\``).join(', ')} now; then a quarantine card needs a second person. Dumps follow once the pods are isolated.${notes.length > 0 ? `\n${notes.join('\n')}` : ''}`,
    ),
  );
  await new CaptureRun(deps, {
    incident,
    service: req.service,
    cfg,
    cluster,
    evidence: req.evidence,
    targets,
    actor,
    basics: true,
    dumps: false,
    events: req.events,
    note: 'Heap dumps and thread traces follow once the quarantine is approved and applied.',
  }).run();
  await deps.approvals.request<QuarantineChange>({
    kind: QUARANTINE_KIND,
    incident,
    step: 'L',
    summary: `Quarantine ${planned.length} ${req.service} pod${planned.length === 1 ? '' : 's'} (${planned.map((p) => p.name).join(', ')})`,
    basis: { ...basis, warnings, notes },
    change,
    requester: actor,
  });
}

interface StoredBasis extends QuarantineBasis {
  warnings?: string[];
  notes?: string[];
}

/** Registers the quarantine approval handler and the durable expiry; called once by the composition root. */
export function registerTelemetry(deps: Deps): void {
  deps.approvals.register<QuarantineChange>({
    kind: QUARANTINE_KIND,
    stepOnSuccess: 'in_progress',
    describe(action) {
      const basis = action.basis as StoredBasis;
      const byName = new Map(basis.pods.map((p) => [p.name, p]));
      return quarantineView({
        namespace: action.change.namespace,
        pods: action.change.pods.map((p) => {
          const seen = byName.get(p.name);
          return {
            name: p.name,
            ready: seen?.ready ?? false,
            ...(seen?.node ? { node: seen.node } : {}),
            ...(seen?.percent !== undefined ? { percent: seen.percent } : {}),
            removeLabels: p.removeLabels,
          };
        }),
        policy: action.change.policy,
        label: `${action.change.label.key}=${action.change.label.value}`,
        ...(action.change.forensicsNamespace ? { forensicsNamespace: action.change.forensicsNamespace } : {}),
        ttlMs: action.change.ttlMs,
        onExpiry: action.change.onExpiry,
        warnings: [...(basis.warnings ?? []), ...(basis.notes ?? [])],
        captureAfter: action.change.captureAfter,
      });
    },
    execute: (action, ctx) => executeQuarantine(deps, action, ctx),
    recheck: (action) => recheckQuarantine(deps, action),
  });
  deps.scheduler.handle(EXPIRY_QUEUE, async (member) => {
    const [incidentId = '', service = ''] = member.split('|');
    const incident = await deps.incidents.get(incidentId);
    const cfg = deps.config.services[service]?.kubernetes;
    if (!incident || !cfg) return;
    await releaseQuarantine(deps, { incident, service, actor: SYSTEM, mode: cfg.onExpiry, reason: 'expiry' });
  });
}

async function executeQuarantine(
  deps: Deps,
  action: { id: string; incident: string; basis: unknown; change: QuarantineChange; requester: Actor },
  ctx: { progress(text: string, data?: Record<string, unknown>): Promise<void> },
): Promise<ActionResult> {
  const { change } = action;
  const basis = action.basis as StoredBasis;
  const { cfg, cluster, evidence } = workloadOf(deps, change.service);
  // Reality must still be what the approver saw: the same pods (by uid), alive, and capacity left to serve.
  const current: PodInfo[] = [];
  for (const seen of basis.pods) {
    const pod = await cluster.getPod(change.namespace, seen.name, cfg.container);
    if (!pod || pod.uid !== seen.uid) {
      return {
        ok: false,
        summary: `Pod ${seen.name} is gone or was replaced since the request; nothing was changed. Run /telemetry quarantine= again.`,
      };
    }
    if (pod.deletingSince) {
      return {
        ok: false,
        summary: `Pod ${seen.name} is being deleted; nothing was changed. Run /telemetry quarantine= again.`,
      };
    }
    if (pod.labels[QUARANTINE_LABEL]) {
      return {
        ok: false,
        summary: `Pod ${seen.name} is already quarantined (${pod.labels[QUARANTINE_LABEL]}); nothing was changed.`,
      };
    }
    current.push(pod);
  }
  const all = await cluster.listPods(change.namespace, cfg.selector, cfg.container);
  const readyTotal = all.filter((p) => p.ready && !p.deletingSince).length;
  const { allowed } = quarantineAllowance(current, readyTotal, {
    max: cfg.maxQuarantine,
    fraction: cfg.maxQuarantineFraction,
  });
  if (allowed < current.length) {
    return {
      ok: false,
      summary: `Only ${readyTotal} pods are ready now (${basis.readyTotal} when requested): isolating ${current.length} would leave too few serving (maxQuarantineFraction ${cfg.maxQuarantineFraction}). Nothing was changed.`,
    };
  }
  const incident = await deps.incidents.get(action.incident);
  if (!incident) return { ok: false, summary: `Incident ${action.incident} is gone; nothing was changed.` };

  const created = await cluster.createQuarantinePolicy(change.namespace, {
    name: change.policy,
    label: change.label,
    ...(change.forensicsNamespace ? { forensicsNamespace: change.forensicsNamespace } : {}),
    incident: incident.id,
  });
  await ctx.progress(
    `NetworkPolicy ${change.policy} ${created === 'created' ? 'created' : 'already in place'}: deny all ingress and egress${change.forensicsNamespace ? ` except ingress from ${change.forensicsNamespace}` : ''}`,
  );
  const expiresAt = new Date(deps.now().getTime() + change.ttlMs).toISOString();
  const done: QuarantineEventData['pods'] = [];
  for (const plan of change.pods) {
    const pod = current.find((p) => p.name === plan.name);
    if (!pod) continue;
    const removed: Record<string, string> = {};
    for (const key of plan.removeLabels) {
      const value = pod.labels[key];
      if (value !== undefined) removed[key] = value;
    }
    try {
      await cluster.patchPodMetadata(change.namespace, pod.name, {
        labels: {
          ...Object.fromEntries(Object.keys(removed).map((k) => [k, null])),
          [change.label.key]: change.label.value,
        },
        annotations: {
          [ANNOTATION.incident]: incident.id,
          [ANNOTATION.expires]: expiresAt,
          [ANNOTATION.by]: `${action.requester.name} (${action.requester.id}), action ${action.id}`,
          [ANNOTATION.labels]: JSON.stringify(removed),
        },
      });
    } catch (err) {
      const isolated = done.map((d) => d.name).join(', ') || 'none';
      await deps.scheduler.at(EXPIRY_QUEUE, expiryMember(incident.id, change.service), Date.parse(expiresAt));
      return {
        ok: false,
        summary: `Relabelling ${pod.name} failed: ${(err as Error).message}. Already isolated: ${isolated}; the NetworkPolicy is in place. Run /telemetry release to undo, or retry.`,
        data: { isolated: done.map((d) => d.name) },
      };
    }
    done.push({
      name: pod.name,
      uid: pod.uid,
      ...(pod.node ? { node: pod.node } : {}),
      removedLabels: removed,
    });
    await ctx.progress(
      `Isolated ${pod.name}: removed ${Object.keys(removed).join(', ') || 'no labels'}; the ReplicaSet starts a replacement`,
    );
  }
  await deps.scheduler.at(EXPIRY_QUEUE, expiryMember(incident.id, change.service), Date.parse(expiresAt));
  const data: QuarantineEventData = {
    action: action.id,
    namespace: change.namespace,
    policy: change.policy,
    label: `${change.label.key}=${change.label.value}`,
    pods: done,
    expiresAt,
    warnings: basis.warnings ?? [],
  };
  await deps.incidents.record(incident.id, {
    step: 'L',
    kind: PODS_QUARANTINED,
    actor: action.requester,
    summary: `Quarantined ${done.map((d) => d.name).join(', ')} in ${change.namespace} until ${expiresAt} (then ${change.onExpiry === 'delete' ? 'deleted' : 'returned'})`,
    data: { ...data },
  });
  if (change.captureAfter) {
    const snapshotRows = await rowsForPods(
      deps,
      cfg,
      cluster,
      done.map((d) => d.name),
      `${change.label.key}=${change.label.value}`,
    );
    deps.tasks.run(`telemetry-capture:${action.id}`, () =>
      new CaptureRun(deps, {
        incident,
        service: change.service,
        cfg,
        cluster,
        evidence,
        targets: snapshotRows,
        actor: action.requester,
        basics: false,
        dumps: true,
      }).run(),
    );
  }
  return {
    ok: true,
    summary: `${done.length} pod${done.length === 1 ? '' : 's'} isolated behind ${change.policy}; they expire at ${expiresAt}. \`/telemetry release\` undoes it.${change.captureAfter ? ' Dumps are being taken from them now.' : ''}`,
    data: { pods: done.map((d) => d.name), policy: change.policy, expiresAt },
  };
}

/** Fresh rows (memory included) for named pods, for captures that start later than the snapshot. */
async function rowsForPods(
  deps: Deps,
  cfg: KubernetesSection,
  cluster: Kubernetes,
  names: string[],
  selector: string,
): Promise<PodRow[]> {
  const pods = (await Promise.all(names.map((n) => cluster.getPod(cfg.namespace, n, cfg.container)))).filter(
    (p): p is PodInfo => p !== null,
  );
  const metrics = await cluster
    .podMemory(cfg.namespace, selector, cfg.container)
    .catch((err: unknown) => ({ available: false as const, reason: (err as Error).message }));
  return buildSnapshot({
    service: '',
    namespace: cfg.namespace,
    selector: '',
    container: cfg.container,
    at: deps.now(),
    pods,
    metrics,
    events: [],
  }).pods;
}

async function recheckQuarantine(
  deps: Deps,
  action: { incident: string; change: QuarantineChange },
): Promise<ActionResult> {
  const { cfg, cluster } = workloadOf(deps, action.change.service);
  const pods = await cluster.listPods(
    action.change.namespace,
    `${action.change.label.key}=${action.change.label.value}`,
    cfg.container,
  );
  const names = new Set(pods.map((p) => p.name));
  const missing = action.change.pods.filter((p) => !names.has(p.name)).map((p) => p.name);
  return missing.length === 0
    ? {
        ok: true,
        summary: `all ${names.size} pods carry the quarantine label. Check the NetworkPolicy ${action.change.policy} exists.`,
      }
    : {
        ok: false,
        summary: `${missing.join(', ')} do not carry the quarantine label. Run /telemetry release to clean up, then quarantine again.`,
      };
}

export interface ReleaseRequest {
  incident: Incident;
  service: string;
  actor: Actor;
  mode: 'return' | 'delete';
  reason: 'command' | 'expiry';
}

/** Undoes a quarantine: pods returned to their ReplicaSet (or deleted), the NetworkPolicy removed. */
export async function releaseQuarantine(
  deps: Deps,
  req: ReleaseRequest,
): Promise<{ summary: string; pods: string[]; policyDeleted: boolean }> {
  const { cfg, cluster } = workloadOf(deps, req.service);
  const label = `${QUARANTINE_LABEL}=${req.incident.id}`;
  const policy = policyName(req.incident.id);
  const pods = await cluster.listPods(cfg.namespace, label, cfg.container);
  const handled: string[] = [];
  const problems: string[] = [];
  let policyDeleted = false;
  // Returning pods: lift the fence first, or they rejoin the Service while traffic to them is still denied.
  if (req.mode === 'return') policyDeleted = await cluster.deleteNetworkPolicy(cfg.namespace, policy);
  for (const pod of pods) {
    try {
      if (req.mode === 'delete') {
        await cluster.deletePod(cfg.namespace, pod.name, pod.uid);
      } else {
        let original: Record<string, string> = {};
        try {
          original = JSON.parse(pod.annotations[ANNOTATION.labels] ?? '{}') as Record<string, string>;
        } catch {
          problems.push(`${pod.name}: its original labels annotation is unreadable; relabel it by hand`);
        }
        await cluster.patchPodMetadata(cfg.namespace, pod.name, {
          labels: { ...original, [QUARANTINE_LABEL]: null },
          annotations: Object.fromEntries(Object.values(ANNOTATION).map((k) => [k, null])),
        });
      }
      handled.push(pod.name);
    } catch (err) {
      problems.push(`${pod.name}: ${(err as Error).message}`);
    }
  }
  if (req.mode === 'delete') policyDeleted = await cluster.deleteNetworkPolicy(cfg.namespace, policy);
  await deps.scheduler.cancel(EXPIRY_QUEUE, expiryMember(req.incident.id, req.service));
  const verb = req.mode === 'delete' ? 'deleted' : 'returned to their ReplicaSet';
  const summary =
    handled.length === 0 && !policyDeleted && problems.length === 0
      ? `Nothing was quarantined for ${req.incident.id} in ${cfg.namespace}`
      : `${req.reason === 'expiry' ? 'Quarantine expired: ' : 'Released: '}${handled.length > 0 ? `${handled.join(', ')} ${verb}` : 'no pods left'}; NetworkPolicy ${policy} ${policyDeleted ? 'deleted' : 'was already gone'}${problems.length > 0 ? `. PROBLEMS: ${problems.join('; ')}` : ''}`;
  await deps.incidents.record(req.incident.id, {
    step: 'L',
    kind: PODS_RELEASED,
    actor: req.actor,
    summary,
    data: {
      namespace: cfg.namespace,
      mode: req.mode,
      reason: req.reason,
      pods: handled,
      policy,
      policyDeleted,
      problems,
    },
  });
  if (req.reason === 'expiry') await deps.chat.post(req.incident.channel, notice(`:hourglass: ${summary}.`));
  return { summary, pods: handled, policyDeleted };
}

/** The "Debug container" button: add an ephemeral container with the debug image and take the dumps from it. */
export async function debugContainerCapture(
  deps: Deps,
  req: { incident: Incident; pod: string; actor: Actor; respond(message: Message): Promise<void> },
): Promise<void> {
  const { cfg, cluster, evidence } = workloadOf(deps, req.incident.service);
  if (!cfg.debugImage) {
    throw new UsageError(
      `services.${req.incident.service}.kubernetes.debugImage is not set, so there is no debug image to run. Set it (an image with the dump tools) and run /telemetry again.`,
    );
  }
  const pod = await cluster.getPod(cfg.namespace, req.pod, cfg.container);
  if (!pod || pod.deletingSince) {
    throw new UsageError(`Pod ${req.pod} is gone; run /telemetry again to pick the current worst pods.`);
  }
  const name = `cs-debug-${randomUUID().slice(0, 5)}`;
  try {
    await cluster.addDebugContainer(cfg.namespace, pod.name, {
      name,
      image: cfg.debugImage,
      target: cfg.container,
    });
  } catch (err) {
    await recordFailure(deps, req.incident, req.actor, 'debug container', err);
    throw err;
  }
  await deps.incidents.record(req.incident.id, {
    step: 'L',
    kind: DEBUG_CONTAINER_ADDED,
    actor: req.actor,
    summary: `Added ephemeral container ${name} (${cfg.debugImage}) to ${pod.name}, targeting ${cfg.container}`,
    data: { pod: pod.name, uid: pod.uid, container: name, image: cfg.debugImage, target: cfg.container },
  });
  await req.respond(
    notice(`Adding debug container \`${name}\` to \`${pod.name}\`; the dumps follow when it runs.`),
  );
  // The kubelet pulls the image and starts it; wait for it to run (the image pull is the slow part).
  const deadline = deps.now().getTime() + 120_000;
  for (;;) {
    const now = await cluster.getPod(cfg.namespace, pod.name, cfg.container);
    if (!now) throw new UsageError(`Pod ${pod.name} went away while its debug container started.`);
    if (now.ephemeral?.some((e) => e.name === name && e.running)) break;
    if (Date.now() > deadline) {
      throw new UsageError(
        `The debug container ${name} did not start within 2 minutes (image pull?). Check kubectl describe pod ${pod.name} -n ${cfg.namespace}.`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const rows = await rowsForPods(deps, cfg, cluster, [pod.name], cfg.selector);
  await new CaptureRun(deps, {
    incident: req.incident,
    service: req.incident.service,
    cfg,
    cluster,
    evidence,
    targets: rows,
    actor: req.actor,
    basics: false,
    dumps: true,
    debugContainer: name,
  }).run();
}
