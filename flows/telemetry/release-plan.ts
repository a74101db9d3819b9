// Step L, release: returning a quarantined pod to its ReplicaSet makes the controller adopt it and then delete a pod
// to get back to spec.replicas. Say so before it happens, on an approval card, and offer the safe choices.
import type { ActionResult } from '../../src/actions.ts';
import type { ChangeView } from '../../src/chat/blocks/approval.ts';
import type { TelemetryCaps } from './caps.ts';
import type { Incident } from '../../src/incident.ts';
import type { Actor } from '../../src/timeline.ts';
import { ANNOTATION, QUARANTINE_LABEL, selectorMatches, type PodInfo } from '../../src/workload.ts';
import { releaseQuarantine } from './release.ts';
import { workloadOf } from './workload.ts';

export const RELEASE_KIND = 'pods.release';

/** What one ReplicaSet will do once the quarantined pods carry its labels again. */
export interface ScaleDown {
  replicaSet: string;
  replicas: number;
  /** Pods it owns now (not being deleted). */
  owned: string[];
  /** Quarantined pods it will re-adopt. */
  returning: string[];
  /** Pods it will then delete. */
  excess: number;
  /** The pods it deletes first: the most recently created (the replacements it started). */
  likelyDeleted: string[];
}

export interface ReleaseChange {
  service: string;
  namespace: string;
  pods: string[];
  scaleDowns: ScaleDown[];
}

function originalLabels(pod: PodInfo): Record<string, string> {
  try {
    return JSON.parse(pod.annotations[ANNOTATION.labels] ?? '{}') as Record<string, string>;
  } catch {
    return {};
  }
}

/**
 * Which ReplicaSets would re-adopt the quarantined pods, and how many pods each then deletes. "If the pods' creation
 * times differ, the pod that was created more recently comes before the older pod" when a ReplicaSet scales down
 * (https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#scaling-a-replicaset).
 */
export async function planReturn(
  deps: TelemetryCaps,
  service: string,
  quarantined: PodInfo[],
): Promise<ScaleDown[]> {
  const { cfg, cluster } = workloadOf(deps, service);
  const sets = await cluster.replicaSets(cfg.namespace);
  const pods = (await cluster.listPods(cfg.namespace, cfg.selector, cfg.container)).filter(
    (p) => !p.deletingSince && !p.labels[QUARANTINE_LABEL],
  );
  const out: ScaleDown[] = [];
  for (const rs of sets) {
    const returning = quarantined.filter((p) => selectorMatches(rs.selector, originalLabels(p)));
    if (returning.length === 0) continue;
    const owned = pods.filter((p) => selectorMatches(rs.selector, p.labels));
    const excess = owned.length + returning.length - rs.replicas;
    if (excess <= 0) continue;
    const newestFirst = [...owned, ...returning].sort((a, b) =>
      (b.createdAt ?? '').localeCompare(a.createdAt ?? ''),
    );
    out.push({
      replicaSet: rs.name,
      replicas: rs.replicas,
      owned: owned.map((p) => p.name),
      returning: returning.map((p) => p.name),
      excess,
      likelyDeleted: newestFirst.slice(0, excess).map((p) => p.name),
    });
  }
  return out;
}

/** The card's words: what the ReplicaSet will do, and what to do instead. */
export function scaleDownWarnings(scaleDowns: ScaleDown[]): string[] {
  return scaleDowns.map((s) => {
    const kept = s.likelyDeleted.filter((n) => !s.returning.includes(n));
    return `ReplicaSet \`${s.replicaSet}\` wants ${s.replicas} replicas and already runs ${s.owned.length}: once ${s.returning.map((n) => `\`${n}\``).join(', ')} carr${s.returning.length === 1 ? 'ies' : 'y'} its labels again it adopts ${s.returning.length === 1 ? 'it' : 'them'}, counts ${s.owned.length + s.returning.length}, and *deletes ${s.excess} pod${s.excess === 1 ? '' : 's'}*, newest first: likely ${s.likelyDeleted.map((n) => `\`${n}\``).join(', ')}${kept.length > 0 ? `, a healthy replacement, while the quarantined pod goes back to serving` : ''}.`;
  });
}

export const SAFE_CHOICES =
  'Safe choices instead: `/telemetry release mode=delete` deletes the quarantined pods and the policy (their evidence stays in the store and on the timeline), or scale the Deployment up by as many pods first (`kubectl scale deployment/<name> --replicas=<n+1>`), then release.';

export function releaseView(change: ReleaseChange): ChangeView {
  return {
    fields: [
      ['Pods to return', `${change.pods.map((p) => `\`${p}\``).join(', ')} in \`${change.namespace}\``],
      [
        'Then',
        change.scaleDowns
          .map((s) => `\`${s.replicaSet}\` deletes ${s.excess} pod${s.excess === 1 ? '' : 's'}`)
          .join('; '),
      ],
    ],
    lines: ['Approve only if that deletion is what you want.', SAFE_CHOICES],
    warnings: scaleDownWarnings(change.scaleDowns),
  };
}

/**
 * Returning the quarantined pods (`/telemetry release`, or an expiry with `onExpiry: return`): at once when no
 * ReplicaSet would delete a pod; otherwise nothing changes and a card asks a person first.
 */
export async function requestReturn(
  deps: TelemetryCaps,
  req: { incident: Incident; service: string; actor: Actor; reason?: 'command' | 'expiry' },
): Promise<{ summary: string; card: boolean }> {
  const { cfg, cluster } = workloadOf(deps, req.service);
  const quarantined = await cluster.listPods(
    cfg.namespace,
    `${QUARANTINE_LABEL}=${req.incident.id}`,
    cfg.container,
  );
  const scaleDowns = quarantined.length > 0 ? await planReturn(deps, req.service, quarantined) : [];
  if (scaleDowns.length === 0) {
    const result = await releaseQuarantine(deps, { ...req, mode: 'return', reason: req.reason ?? 'command' });
    return { summary: result.summary, card: false };
  }
  const change: ReleaseChange = {
    service: req.service,
    namespace: cfg.namespace,
    pods: quarantined.map((p) => p.name),
    scaleDowns,
  };
  await deps.approvals.request<ReleaseChange>({
    kind: RELEASE_KIND,
    incident: req.incident,
    step: 'L',
    summary: `Return ${change.pods.length} quarantined ${req.service} pod${change.pods.length === 1 ? '' : 's'} to ${scaleDowns.map((s) => s.replicaSet).join(', ')}: the ReplicaSet then deletes ${scaleDowns.reduce((n, s) => n + s.excess, 0)} pod(s)`,
    basis: { scaleDowns },
    change,
    requester: req.actor,
  });
  return {
    summary: `Nothing changed yet: ${scaleDownWarnings(scaleDowns).join(' ')} A card asks a second person to approve returning anyway. ${SAFE_CHOICES}`,
    card: true,
  };
}

export async function executeReturn(
  deps: TelemetryCaps,
  action: { incident: string; change: ReleaseChange; requester: Actor },
): Promise<ActionResult> {
  const incident = await deps.incidents.get(action.incident);
  if (!incident) return { ok: false, summary: `Incident ${action.incident} is gone; nothing was changed.` };
  const result = await releaseQuarantine(deps, {
    incident,
    service: action.change.service,
    actor: action.requester,
    mode: 'return',
    reason: 'command',
  });
  return { ok: result.pods.length > 0 || result.policyDeleted, summary: result.summary };
}

export async function recheckReturn(
  deps: TelemetryCaps,
  action: { incident: string; change: ReleaseChange },
): Promise<ActionResult> {
  const { cfg, cluster } = workloadOf(deps, action.change.service);
  const left = await cluster.listPods(cfg.namespace, `${QUARANTINE_LABEL}=${action.incident}`, cfg.container);
  return left.length === 0
    ? { ok: true, summary: 'no pod carries the quarantine label any more: the pods were returned' }
    : {
        ok: false,
        summary: `${left.map((p) => p.name).join(', ')} still carry the quarantine label; run /telemetry release again`,
      };
}
