// Step L, quarantine: does the deny-all NetworkPolicy isolate anything? A 201 only says the API stored it; whether
// traffic stops depends on the network plugin. A TCP probe from a pod that is not fenced tells, before and after.
import type { Kubernetes } from '../../src/adapters/kubernetes/types.ts';
import type { PodInfo } from '../../src/workload.ts';

export type IsolationVerdict = 'confirmed' | 'not-enforced' | 'unconfirmed';

export interface IsolationCheck {
  verdict: IsolationVerdict;
  /** What to put on the card and the timeline, plainly. */
  text: string;
}

interface ProbeTarget {
  pod: string;
  ip: string;
  port: number;
}

export interface IsolationPlan {
  from?: { namespace: string; pod: string; container: string };
  targets: ProbeTarget[];
  /** Why no probe can be made (then the verdict is "unconfirmed"). */
  problem?: string;
}

/** Probes after the fence: the plugin programs its rules asynchronously, so a first success is not yet a verdict. */
const ATTEMPTS = 3;
const WAIT_BETWEEN_S = 2;

/** The prober: a running, ready pod of the workload that is not being fenced; the targets: each pod's IP and port. */
export function planIsolationProbe(
  all: PodInfo[],
  fenced: PodInfo[],
  namespace: string,
  container: string,
): IsolationPlan {
  const names = new Set(fenced.map((p) => p.name));
  const peer = all.find(
    (p) => !names.has(p.name) && p.ready && !p.deletingSince && p.container?.state === 'running',
  );
  const targets: ProbeTarget[] = [];
  const missing: string[] = [];
  for (const pod of fenced) {
    const port = pod.container?.ports?.[0];
    if (pod.ip && port !== undefined) targets.push({ pod: pod.name, ip: pod.ip, port });
    else missing.push(`${pod.name} has ${pod.ip ? 'no declared TCP containerPort' : 'no pod IP'}`);
  }
  const problem = !peer
    ? 'no other running pod of the workload to probe from'
    : missing.length > 0
      ? `${missing.join('; ')}, so there is nothing to probe`
      : undefined;
  return {
    ...(peer ? { from: { namespace, pod: peer.name, container } } : {}),
    targets,
    ...(problem ? { problem } : {}),
  };
}

/** Before the fence every target must answer, or a failing probe afterwards would prove nothing. */
export async function baselineProbe(cluster: Kubernetes, plan: IsolationPlan): Promise<string | undefined> {
  if (plan.problem || !plan.from) return plan.problem ?? 'no pod to probe from';
  for (const t of plan.targets) {
    const got = await cluster.probeTcp(plan.from, t.ip, t.port);
    if (got.result === 'unavailable') return got.reason;
    if (got.result === 'blocked')
      return `${t.pod} did not answer on ${t.ip}:${t.port} from ${plan.from.pod} even before the fence (nothing listening, or another policy already blocks it), so a failing probe afterwards would prove nothing`;
  }
  return undefined;
}

function unconfirmed(reason: string, plan: IsolationPlan): IsolationCheck {
  const target = plan.targets[0];
  const how =
    plan.from && target
      ? ` Check by hand: \`kubectl exec -n ${plan.from.namespace} ${plan.from.pod} -- nc -z -w 3 ${target.ip} ${target.port}\` must fail.`
      : '';
  return {
    verdict: 'unconfirmed',
    text: `Isolation could not be confirmed: ${reason}. The NetworkPolicy is in place, but whether the cluster's network plugin enforces it is unknown.${how}`,
  };
}

/** After the fence: every target must stop answering within a few probes. */
export async function confirmIsolation(
  cluster: Kubernetes,
  plan: IsolationPlan,
  baselineProblem: string | undefined,
): Promise<IsolationCheck> {
  if (baselineProblem || !plan.from) return unconfirmed(baselineProblem ?? 'no pod to probe from', plan);
  const from = plan.from;
  const open: ProbeTarget[] = [];
  for (const t of plan.targets) {
    let last: 'reached' | 'blocked' = 'reached';
    for (let attempt = 0; attempt < ATTEMPTS && last === 'reached'; attempt++) {
      const got = await cluster.probeTcp(
        from,
        t.ip,
        t.port,
        attempt > 0 ? { waitFirstS: WAIT_BETWEEN_S } : {},
      );
      if (got.result === 'unavailable') return unconfirmed(got.reason, plan);
      last = got.result;
    }
    if (last === 'reached') open.push(t);
  }
  if (open.length > 0) {
    const list = open.map((t) => `${t.pod} (${t.ip}:${t.port})`).join(', ');
    return {
      verdict: 'not-enforced',
      text: `NOT ISOLATED: from ${from.pod}, ${list} still answer${open.length === 1 ? 's' : ''} after the deny-all NetworkPolicy (${ATTEMPTS} probes over ${(ATTEMPTS - 1) * WAIT_BETWEEN_S} s). The cluster's network plugin does not enforce NetworkPolicy: the pods are out of the Service, but other pods can still reach them and they can still reach the network. Fence them another way (a node firewall or the cloud's security groups), or \`/telemetry release mode=delete\` once the evidence is kept.`,
    };
  }
  return {
    verdict: 'confirmed',
    text: `Isolation confirmed: from ${from.pod}, ${plan.targets.map((t) => `${t.pod} (${t.ip}:${t.port})`).join(', ')} answered before the fence and no longer answer${plan.targets.length === 1 ? 's' : ''}.`,
  };
}
