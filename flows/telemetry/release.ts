// Step L, release: lift the quarantine by hand or when it expires.
import { notice } from '../../src/chat/blocks/common.ts';
import type { TelemetryCaps } from './caps.ts';
import { PODS_RELEASED } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { type Actor } from '../../src/timeline.ts';
import { ANNOTATION, QUARANTINE_LABEL } from '../../src/workload.ts';
import { EXPIRY_QUEUE, expiryMember, policyName, workloadOf } from './workload.ts';

export interface ReleaseRequest {
  incident: Incident;
  service: string;
  actor: Actor;
  mode: 'return' | 'delete';
  reason: 'command' | 'expiry';
}

/** Undoes a quarantine: pods returned to their ReplicaSet (or deleted), the NetworkPolicy removed. */
export async function releaseQuarantine(
  deps: TelemetryCaps,
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
