// Step L, `/telemetry`: snapshot the failing workload, keep evidence from the worst pods, offer the quarantine.
import { KubernetesError } from '../../src/adapters/kubernetes/types.ts';
import type { Message } from '../../src/chat/chat.ts';
import { errorMessage, notice } from '../../src/chat/blocks/common.ts';
import { snapshotMessage, snapshotSummary } from './blocks.ts';
import { renderBarChart, renderLineChart, type Series } from '../../src/chart/png.ts';
import { resolveSecret, type KubernetesSection } from '../../src/config.ts';
import type { TelemetryCaps } from './caps.ts';
import { formatDuration } from '../../src/duration.ts';
import { TELEMETRY_FAILED, WORKLOAD_SNAPSHOT } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { type Actor } from '../../src/timeline.ts';
import { buildSnapshot, capturable, type PodInfo, type WorkloadSnapshot } from '../../src/workload.ts';
import { CaptureRun } from './capture.ts';
import { requestQuarantine } from './quarantine.ts';
import { DEFAULT_PODS, EVENTS_SINCE_MS, workloadOf } from './workload.ts';

export interface TelemetryRequest {
  incident: Incident;
  service: string;
  actor: Actor;
  pods?: number;
  quarantine?: number;
  respond(message: Message): Promise<void>;
}

/** /telemetry: snapshot, then evidence from the worst pods, then (asked) a quarantine request; dumps last. */
export async function runTelemetry(deps: TelemetryCaps, req: TelemetryRequest): Promise<void> {
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
export async function recordFailure(
  deps: TelemetryCaps,
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
  deps: TelemetryCaps,
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
      const { series } = await deps.adapters.prometheus.queryRange(
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
