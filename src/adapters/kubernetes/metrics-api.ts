// Memory use per pod from metrics.k8s.io (metrics-server), read raw: client-node has no typed client for it.
import type { IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { MemoryMetrics } from '../../workload.ts';
import { parseQuantity } from '../../workload.ts';
import { kubernetesError } from './errors.ts';
import { rawFailure, rawGet } from './raw.ts';

interface PodMetricsList {
  items?: {
    metadata?: { name?: string };
    timestamp?: string;
    containers?: { name?: string; usage?: { memory?: string } }[];
  }[];
}

/** The container's memory use in each pod the selector picks; `available: false` (with why) without metrics-server. */
export async function readPodMemory(
  kc: KubeConfig,
  namespace: string,
  selector: string,
  container: string,
): Promise<MemoryMetrics> {
  const op = { verb: 'list', resource: 'pods.metrics.k8s.io', namespace };
  let res: IncomingMessage;
  try {
    res = await rawGet(kc, `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods`, {
      labelSelector: selector,
    });
  } catch (err) {
    return { available: false, reason: `the metrics API did not answer (${(err as Error).message})` };
  }
  if (res.statusCode !== 200) {
    const failure = await rawFailure(res);
    if (failure.code === 404 || failure.code === 503) {
      return {
        available: false,
        reason: `metrics.k8s.io is not served (HTTP ${failure.code}): no metrics-server in this cluster, so memory use is not shown (not guessed)`,
      };
    }
    throw kubernetesError(failure, op);
  }
  let body = '';
  for await (const chunk of res) body += String(chunk);
  const list = JSON.parse(body) as PodMetricsList;
  const usage = (list.items ?? []).flatMap((item) => {
    const c = item.containers?.find((x) => x.name === container);
    const bytes = parseQuantity(c?.usage?.memory);
    const pod = item.metadata?.name;
    return pod && bytes !== undefined ? [{ pod, bytes, at: item.timestamp ?? '' }] : [];
  });
  return { available: true, usage };
}
