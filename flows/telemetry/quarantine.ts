// Step L, quarantine: request it (two-person rule), execute it once approved, and recheck it before approval.
import type { ActionResult } from '../../src/actions.ts';
import { type Kubernetes } from '../../src/adapters/kubernetes/types.ts';
import { errorMessage, notice } from '../../src/chat/blocks/common.ts';
import { snapshotSummary } from './blocks.ts';
import type { TelemetryCaps } from './caps.ts';
import { PODS_QUARANTINED, TELEMETRY_FAILED, type QuarantineEventData } from '../../src/events.ts';
import { type Actor } from '../../src/timeline.ts';
import {
  ANNOTATION,
  QUARANTINE_LABEL,
  quarantineAllowance,
  selectorKeys,
  selectorMatches,
  type PodInfo,
  type PodRow,
  type WorkloadSnapshot,
} from '../../src/workload.ts';
import { CaptureRun } from './capture.ts';
import { baselineProbe, confirmIsolation, planIsolationProbe } from './isolation.ts';
import type { TelemetryRequest } from './snapshot.ts';
import type { QuarantineBasis, QuarantineChange, Workload } from './workload.ts';
import {
  EXPIRY_QUEUE,
  QUARANTINE_KIND,
  expiryMember,
  policyName,
  rowsByName,
  rowsForPods,
  workloadOf,
} from './workload.ts';

export async function requestQuarantine(
  deps: TelemetryCaps,
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

export interface StoredBasis extends QuarantineBasis {
  warnings?: string[];
  notes?: string[];
}

export async function executeQuarantine(
  deps: TelemetryCaps,
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
  // A 201 for the policy is not isolation: a probe from a peer must reach each pod now and fail once fenced.
  const probePlan = planIsolationProbe(all, current, change.namespace, cfg.container);
  const baselineProblem = await baselineProbe(cluster, probePlan);

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
  const isolation = await confirmIsolation(
    cluster,
    { ...probePlan, targets: probePlan.targets.filter((t) => done.some((d) => d.name === t.pod)) },
    baselineProblem,
  );
  await ctx.progress(isolation.text, { isolation: isolation.verdict });
  const data: QuarantineEventData = {
    action: action.id,
    namespace: change.namespace,
    policy: change.policy,
    label: `${change.label.key}=${change.label.value}`,
    pods: done,
    expiresAt,
    warnings: basis.warnings ?? [],
    isolation: isolation.verdict,
    isolationDetail: isolation.text,
  };
  await deps.incidents.record(incident.id, {
    step: 'L',
    kind: PODS_QUARANTINED,
    actor: action.requester,
    summary: `Quarantined ${done.map((d) => d.name).join(', ')} in ${change.namespace} until ${expiresAt} (then ${change.onExpiry === 'delete' ? 'deleted' : 'returned'}). ${isolation.text}`,
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
    summary: `${isolation.verdict === 'not-enforced' ? `${isolation.text} ` : ''}${done.length} pod${done.length === 1 ? '' : 's'} ${isolation.verdict === 'confirmed' ? 'isolated' : 'taken out of the Service and fenced'} behind ${change.policy}; they expire at ${expiresAt}.${isolation.verdict === 'confirmed' ? ` ${isolation.text}` : isolation.verdict === 'unconfirmed' ? ` ${isolation.text}` : ''} \`/telemetry release\` undoes it.${change.captureAfter ? ' Dumps are being taken from them now.' : ''}`,
    data: { pods: done.map((d) => d.name), policy: change.policy, expiresAt },
  };
}

export async function recheckQuarantine(
  deps: TelemetryCaps,
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
