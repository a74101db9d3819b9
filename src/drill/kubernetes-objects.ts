// API objects shaped like a real Kubernetes API server's (Pod, PodList, PodMetricsList, EventList, Status).
export const K8S_TOKEN = 'k8s-test-token-7f3a';
export const NAMESPACE = 'payments';

export function status403(verb: string, resource: string, name?: string): Record<string, unknown> {
  const group = resource.includes('.') ? resource.slice(resource.indexOf('.') + 1) : '';
  const plain = resource.includes('.') ? resource.slice(0, resource.indexOf('.')) : resource;
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `${name ? `${plain.split('/')[0]} "${name}"` : plain} is forbidden: User "system:serviceaccount:ops:cloud-safety" cannot ${verb} resource "${plain}" in API group "${group}" in the namespace "${NAMESPACE}"`,
    reason: 'Forbidden',
    details: { ...(name ? { name } : {}), kind: plain.split('/')[0] },
    code: 403,
  };
}

export function status400(message: string): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: 'BadRequest',
    code: 400,
  };
}

/** What a DELETE answers when the object is gone at once. */
export function statusSuccess(name: string, kind: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind } };
}

export function status404(kind: string, name: string): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: `${kind} "${name}" not found`,
    reason: 'NotFound',
    details: { name, kind },
    code: 404,
  };
}

/** The kubelet's Status for a process that exited non-zero. */
export function exitStatus(code: number): Record<string, unknown> {
  if (code === 0) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [sh -c ...], exit code ${code}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
  };
}

export interface PodSpecInput {
  name: string;
  uid?: string;
  node?: string;
  ready?: boolean;
  phase?: string;
  restarts?: number;
  lastTermination?: { reason: string; exitCode: number; finishedAt: string };
  waiting?: string;
  memoryLimit?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  replicaSet?: string | null;
  digest?: string;
  deletionTimestamp?: string;
  ephemeral?: { name: string; running: boolean }[];
  /** status.podIP (default 10.0.1.201). */
  ip?: string;
  /** TCP containerPorts the app container declares (default none). */
  ports?: number[];
  creationTimestamp?: string;
}

export const DIGEST_A = `sha256:${'a1'.repeat(32)}`;
export const DIGEST_B = `sha256:${'b2'.repeat(32)}`;

export function podObject(input: PodSpecInput): Record<string, unknown> {
  const rs = input.replicaSet === undefined ? 'payments-7d9f8b6c5' : input.replicaSet;
  const ready = input.ready ?? true;
  const labels = input.labels ?? { app: 'payments', track: 'cloud', 'pod-template-hash': '7d9f8b6c5' };
  const digest = input.digest ?? DIGEST_A;
  return {
    metadata: {
      name: input.name,
      generateName: `${rs ?? 'payments'}-`,
      namespace: NAMESPACE,
      uid: input.uid ?? `uid-${input.name}`,
      resourceVersion: '48213',
      creationTimestamp: input.creationTimestamp ?? '2026-11-26T08:00:00Z',
      labels,
      ...(input.annotations ? { annotations: input.annotations } : {}),
      ...(input.deletionTimestamp
        ? { deletionTimestamp: input.deletionTimestamp, deletionGracePeriodSeconds: 30 }
        : {}),
      ...(rs
        ? {
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'ReplicaSet',
                name: rs,
                uid: 'rs-uid-1',
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          }
        : {}),
    },
    spec: {
      nodeName: input.node ?? 'ip-10-0-1-17.eu-west-1.compute.internal',
      containers: [
        {
          name: 'app',
          image: 'registry.example.com/payments:2026.11.3',
          ...(input.ports
            ? {
                ports: input.ports.map((containerPort) => ({ name: 'http', containerPort, protocol: 'TCP' })),
              }
            : {}),
          resources: {
            limits: { memory: input.memoryLimit ?? '2Gi', cpu: '1' },
            requests: { memory: '1Gi', cpu: '500m' },
          },
        },
      ],
      restartPolicy: 'Always',
    },
    status: {
      phase: input.phase ?? 'Running',
      conditions: [
        { type: 'Initialized', status: 'True', lastTransitionTime: '2026-11-26T08:00:00Z' },
        { type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: '2026-11-26T09:40:00Z' },
        {
          type: 'ContainersReady',
          status: ready ? 'True' : 'False',
          lastTransitionTime: '2026-11-26T09:40:00Z',
        },
        { type: 'PodScheduled', status: 'True', lastTransitionTime: '2026-11-26T08:00:00Z' },
      ],
      hostIP: '10.0.1.17',
      podIP: input.ip ?? '10.0.1.201',
      startTime: '2026-11-26T08:00:00Z',
      containerStatuses: [
        {
          name: 'app',
          ready,
          restartCount: input.restarts ?? 0,
          image: 'registry.example.com/payments:2026.11.3',
          imageID: `registry.example.com/payments@${digest}`,
          containerID: 'containerd://5e1c0a',
          started: ready,
          state: input.waiting
            ? { waiting: { reason: input.waiting, message: 'back-off 5m0s restarting failed container' } }
            : { running: { startedAt: '2026-11-26T09:40:00Z' } },
          lastState: input.lastTermination
            ? {
                terminated: {
                  exitCode: input.lastTermination.exitCode,
                  reason: input.lastTermination.reason,
                  startedAt: '2026-11-26T09:20:00Z',
                  finishedAt: input.lastTermination.finishedAt,
                  containerID: 'containerd://4d0b09',
                },
              }
            : {},
        },
      ],
      ...(input.ephemeral
        ? {
            ephemeralContainerStatuses: input.ephemeral.map((e) => ({
              name: e.name,
              ready: false,
              restartCount: 0,
              image: 'eclipse-temurin:21-jdk',
              imageID: '',
              state: e.running
                ? { running: { startedAt: '2026-11-26T09:45:00Z' } }
                : { waiting: { reason: 'ContainerCreating' } },
              lastState: {},
            })),
          }
        : {}),
      qosClass: 'Burstable',
    },
  };
}

export function podList(pods: PodSpecInput[]): Record<string, unknown> {
  return {
    kind: 'PodList',
    apiVersion: 'v1',
    metadata: { resourceVersion: '48220' },
    items: pods.map(podObject),
  };
}

export function podMetricsList(usage: Record<string, string>): Record<string, unknown> {
  return {
    kind: 'PodMetricsList',
    apiVersion: 'metrics.k8s.io/v1beta1',
    metadata: {},
    items: Object.entries(usage).map(([name, memory]) => ({
      metadata: {
        name,
        namespace: NAMESPACE,
        creationTimestamp: '2026-11-26T09:45:03Z',
        labels: { app: 'payments', track: 'cloud' },
      },
      timestamp: '2026-11-26T09:44:51Z',
      window: '15.012s',
      containers: [
        { name: 'app', usage: { cpu: '812345678n', memory } },
        { name: 'istio-proxy', usage: { cpu: '4123456n', memory: '61200Ki' } },
      ],
    })),
  };
}

export function eventList(
  events: { pod: string; reason: string; message: string; count?: number; last: string }[],
): Record<string, unknown> {
  return {
    kind: 'EventList',
    apiVersion: 'v1',
    metadata: { resourceVersion: '48221' },
    items: events.map((e, i) => ({
      metadata: {
        name: `${e.pod}.17e2f${i}`,
        namespace: NAMESPACE,
        uid: `ev-${i}`,
        resourceVersion: String(48100 + i),
        creationTimestamp: e.last,
      },
      involvedObject: {
        kind: 'Pod',
        namespace: NAMESPACE,
        name: e.pod,
        uid: `uid-${e.pod}`,
        apiVersion: 'v1',
        resourceVersion: '48000',
        fieldPath: 'spec.containers{app}',
      },
      reason: e.reason,
      message: e.message,
      source: { component: 'kubelet', host: 'ip-10-0-1-17.eu-west-1.compute.internal' },
      firstTimestamp: '2026-11-26T09:00:00Z',
      lastTimestamp: e.last,
      count: e.count ?? 1,
      type: 'Warning',
      eventTime: null,
      reportingComponent: 'kubelet',
      reportingInstance: 'ip-10-0-1-17.eu-west-1.compute.internal',
    })),
  };
}
