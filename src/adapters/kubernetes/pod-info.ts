// Converts V1Pod objects into our PodInfo, plus small formatting helpers (digests, timestamps, shell quoting).
import type { V1Pod } from '@kubernetes/client-node';
import type { PodInfo } from '../../workload.ts';
import { parseQuantity } from '../../workload.ts';

/** `repo@sha256:…`, `docker-pullable://repo@sha256:…` or `sha256:…` -> `sha256:…`. */
export function imageDigest(imageID: string | undefined): string | undefined {
  if (!imageID) return undefined;
  const at = imageID.lastIndexOf('@');
  const tail = at >= 0 ? imageID.slice(at + 1) : imageID.replace(/^[a-z-]+:\/\//, '');
  return /^sha256:[0-9a-f]{64}$/.test(tail) ? tail : undefined;
}

export function iso(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function toPodInfo(pod: V1Pod, container: string | undefined): PodInfo {
  const meta = pod.metadata ?? {};
  const spec = pod.spec;
  const status = pod.status ?? {};
  const name = container ?? spec?.containers[0]?.name;
  const specContainer = spec?.containers.find((c) => c.name === name);
  const cs = status.containerStatuses?.find((c) => c.name === name);
  const terminated = cs?.lastState?.terminated;
  const owner = meta.ownerReferences?.find((o) => o.controller) ?? meta.ownerReferences?.[0];
  const state = cs?.state?.running
    ? 'running'
    : cs?.state?.waiting
      ? 'waiting'
      : cs?.state?.terminated
        ? 'terminated'
        : 'unknown';
  const stateReason = cs?.state?.waiting?.reason ?? cs?.state?.terminated?.reason;
  const limit = parseQuantity(specContainer?.resources?.limits?.memory);
  const deleting = iso(meta.deletionTimestamp);
  const finishedAt = iso(terminated?.finishedAt);
  const digest = imageDigest(cs?.imageID);
  const tcpPorts = (specContainer?.ports ?? [])
    .filter((p) => (p.protocol ?? 'TCP') === 'TCP')
    .map((p) => p.containerPort);
  return {
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    namespace: meta.namespace ?? '',
    ...(spec?.nodeName ? { node: spec.nodeName } : {}),
    ...(status.podIP ? { ip: status.podIP } : {}),
    ...(iso(meta.creationTimestamp) ? { createdAt: iso(meta.creationTimestamp) } : {}),
    phase: status.phase ?? 'Unknown',
    ready: status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    ...(deleting ? { deletingSince: deleting } : {}),
    labels: { ...(meta.labels ?? {}) },
    annotations: { ...(meta.annotations ?? {}) },
    ...(owner ? { owner: { kind: owner.kind, name: owner.name } } : {}),
    ...(status.ephemeralContainerStatuses?.length
      ? {
          ephemeral: status.ephemeralContainerStatuses.map((e) => ({
            name: e.name,
            running: Boolean(e.state?.running),
          })),
        }
      : {}),
    ...(name
      ? {
          container: {
            name,
            image: cs?.image ?? specContainer?.image ?? '',
            ...(digest ? { imageDigest: digest } : {}),
            ready: cs?.ready ?? false,
            state,
            ...(stateReason ? { stateReason } : {}),
            restarts: cs?.restartCount ?? 0,
            ...(terminated
              ? {
                  lastTermination: {
                    reason: terminated.reason ?? 'Unknown',
                    exitCode: terminated.exitCode,
                    ...(finishedAt ? { finishedAt } : {}),
                  },
                }
              : {}),
            ...(limit !== undefined ? { memoryLimitBytes: limit } : {}),
            ...(tcpPorts.length > 0 ? { ports: tcpPorts } : {}),
          },
        }
      : {}),
  };
}

/** Quotes one word for `sh -c`. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
