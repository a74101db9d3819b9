// The Kubernetes adapter on @kubernetes/client-node (object-style calls) plus raw GETs and our own exec wrapper.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Writable } from 'node:stream';
import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Metrics } from '../../metrics.ts';
import { NotWrittenError, observeAfterFailure } from '../../outcome.ts';
import type { LabelSelector, MemoryMetrics, PodEvent, PodInfo } from '../../workload.ts';
import { parseQuantity, selectorMatches } from '../../workload.ts';
import { execInPod, type ExecEndpoint } from './exec.ts';
import {
  ExecError,
  KubernetesError,
  type ExecParams,
  type ExecResult,
  type Kubernetes,
  type KubernetesClusters,
  type PulledFile,
  type PullOptions,
  type QuarantinePolicySpec,
} from './types.ts';

interface K8sStatus {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
}

function parseStatus(body: unknown): K8sStatus | undefined {
  if (body && typeof body === 'object') return body as K8sStatus;
  if (typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as K8sStatus) : undefined;
  } catch {
    return undefined;
  }
}

/** Turns an API error (ApiException, a Status body, a network error) into a KubernetesError that names the RBAC gap. */
export function kubernetesError(
  err: unknown,
  op: { verb: string; resource: string; namespace: string },
): KubernetesError {
  if (err instanceof KubernetesError) return err;
  const e = err as { code?: unknown; body?: unknown; message?: string };
  const code = typeof e.code === 'number' ? e.code : undefined;
  const status = parseStatus(e.body);
  const apiMessage = status?.message;
  if (code === 403) {
    // "pods "x" is forbidden: User "system:serviceaccount:ops:cloud-safety" cannot create resource "pods/exec" …"
    const match = apiMessage
      ? /cannot (\S+) resource "([^"]+)"(?: in API group "([^"]*)")?/.exec(apiMessage)
      : null;
    const verb = match?.[1] ?? op.verb;
    const resource = match?.[2] ?? op.resource;
    const group = match?.[3] ? ` (API group ${match[3]})` : '';
    return new KubernetesError(
      'forbidden',
      `RBAC forbids it: the bot's service account may not ${verb} ${resource}${group} in namespace ${op.namespace}. Add the verb "${verb}" on "${resource}" to its Role (docs/telemetry.md lists the Role).`,
      { verb, resource, status: 403, cause: err },
    );
  }
  if (code === 401) {
    return new KubernetesError(
      'unauthorized',
      'the API server rejected the credentials (401); check KUBECONFIG or the service account token.',
      { ...op, status: 401, cause: err },
    );
  }
  if (code === 404) {
    return new KubernetesError('not-found', apiMessage ?? `${op.resource} not found in ${op.namespace}`, {
      ...op,
      status: 404,
      cause: err,
    });
  }
  if (code === 409) {
    return new KubernetesError('conflict', apiMessage ?? `${op.resource} changed or already exists`, {
      ...op,
      status: 409,
      cause: err,
    });
  }
  if (code === 400 || code === 422) {
    return new KubernetesError(
      'invalid',
      apiMessage ?? `the API server refused to ${op.verb} ${op.resource}`,
      {
        ...op,
        status: code,
        cause: err,
      },
    );
  }
  const what = code
    ? `HTTP ${code}${apiMessage ? `: ${apiMessage}` : ''}`
    : (e.message ?? String(err)).split('\n')[0];
  return new KubernetesError(
    'unavailable',
    `could not ${op.verb} ${op.resource} in ${op.namespace} (${what})`,
    {
      ...op,
      ...(code !== undefined ? { status: code } : {}),
      cause: err,
    },
  );
}

/** `repo@sha256:…`, `docker-pullable://repo@sha256:…` or `sha256:…` -> `sha256:…`. */
export function imageDigest(imageID: string | undefined): string | undefined {
  if (!imageID) return undefined;
  const at = imageID.lastIndexOf('@');
  const tail = at >= 0 ? imageID.slice(at + 1) : imageID.replace(/^[a-z-]+:\/\//, '');
  return /^sha256:[0-9a-f]{64}$/.test(tail) ? tail : undefined;
}

function iso(value: Date | string | undefined): string | undefined {
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
  return {
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    namespace: meta.namespace ?? '',
    ...(spec?.nodeName ? { node: spec.nodeName } : {}),
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
          },
        }
      : {}),
  };
}

/** Quotes one word for `sh -c`. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

interface PodMetricsList {
  items?: {
    metadata?: { name?: string };
    timestamp?: string;
    containers?: { name?: string; usage?: { memory?: string } }[];
  }[];
}

/** One cluster (one kubeconfig context). */
/** A write that failed with a 5xx or got no answer may still have been applied by the API server. */
function mayHaveApplied(err: unknown): boolean {
  return err instanceof KubernetesError && (err.status === undefined || err.status >= 500);
}

/** Whether `have` carries a merge patch's keys: a value set, a null removed. */
function carries(
  have: Record<string, string> | undefined,
  patch: Record<string, string | null> | undefined,
): boolean {
  return Object.entries(patch ?? {}).every(([k, v]) =>
    v === null ? have?.[k] === undefined : have?.[k] === v,
  );
}

export class KubeCluster implements Kubernetes {
  #kc: KubeConfig;
  #core: CoreV1Api;
  #apps: AppsV1Api;
  #net: NetworkingV1Api;
  #metrics: Metrics;

  constructor(kc: KubeConfig, metrics: Metrics) {
    this.#kc = kc;
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#apps = kc.makeApiClient(AppsV1Api);
    this.#net = kc.makeApiClient(NetworkingV1Api);
    this.#metrics = metrics;
  }

  async #call<T>(
    operation: string,
    op: { verb: string; resource: string; namespace: string },
    fn: () => Promise<T>,
  ): Promise<T> {
    return this.#metrics.timed('kubernetes', operation, async () => {
      try {
        return await fn();
      } catch (err) {
        throw kubernetesError(err, op);
      }
    });
  }

  async #endpoint(): Promise<ExecEndpoint> {
    const cluster = this.#kc.getCurrentCluster();
    if (!cluster)
      throw new KubernetesError('other', 'the kubeconfig names no current cluster', {
        verb: 'connect',
        resource: 'cluster',
      });
    const options: Record<string, unknown> = {};
    await this.#kc.applyToHTTPSOptions(options);
    return { server: cluster.server, options: options as ExecEndpoint['options'] };
  }

  /** A GET outside the generated client (metrics.k8s.io, logs) that hands back the response stream. */
  async #rawGet(path: string, query: Record<string, string>): Promise<IncomingMessage> {
    const { server, options } = await this.#endpoint();
    const url = new URL(server);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
    url.search = new URLSearchParams(query).toString();
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { ...(options as RequestOptions), method: 'GET' }, resolve);
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error('no answer from the API server within 30s')));
      req.end();
    });
  }

  async #rawFailure(res: IncomingMessage): Promise<{ code: number; body: string }> {
    let body = '';
    for await (const chunk of res) if (body.length < 64 * 1024) body += String(chunk);
    return { code: res.statusCode ?? 0, body };
  }

  listPods(namespace: string, selector: string, container: string): Promise<PodInfo[]> {
    return this.#call('listPods', { verb: 'list', resource: 'pods', namespace }, async () => {
      const list = await this.#core.listNamespacedPod({ namespace, labelSelector: selector });
      return list.items.map((pod) => toPodInfo(pod, container));
    });
  }

  async getPod(namespace: string, name: string, container: string): Promise<PodInfo | null> {
    try {
      return await this.#call('getPod', { verb: 'get', resource: 'pods', namespace }, async () =>
        toPodInfo(await this.#core.readNamespacedPod({ namespace, name }), container),
      );
    } catch (err) {
      if (err instanceof KubernetesError && err.reason === 'not-found') return null;
      throw err;
    }
  }

  async podDocument(namespace: string, name: string): Promise<Record<string, unknown> | null> {
    try {
      return await this.#call('getPod', { verb: 'get', resource: 'pods', namespace }, async () => {
        const pod = await this.#core.readNamespacedPod({ namespace, name });
        return JSON.parse(JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...pod })) as Record<
          string,
          unknown
        >;
      });
    } catch (err) {
      if (err instanceof KubernetesError && err.reason === 'not-found') return null;
      throw err;
    }
  }

  async podMemory(namespace: string, selector: string, container: string): Promise<MemoryMetrics> {
    const op = { verb: 'list', resource: 'pods.metrics.k8s.io', namespace };
    return this.#metrics.timed('kubernetes', 'podMetrics', async () => {
      let res: IncomingMessage;
      try {
        res = await this.#rawGet(
          `/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/pods`,
          {
            labelSelector: selector,
          },
        );
      } catch (err) {
        return { available: false, reason: `the metrics API did not answer (${(err as Error).message})` };
      }
      if (res.statusCode !== 200) {
        const failure = await this.#rawFailure(res);
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
    });
  }

  warningEvents(namespace: string, since: Date): Promise<PodEvent[]> {
    return this.#call('listEvents', { verb: 'list', resource: 'events', namespace }, async () => {
      const list = await this.#core.listNamespacedEvent({
        namespace,
        fieldSelector: 'type=Warning,involvedObject.kind=Pod',
      });
      return list.items.flatMap((event): PodEvent[] => {
        const lastSeen =
          iso(event.lastTimestamp) ??
          iso(event.series?.lastObservedTime) ??
          iso(event.eventTime) ??
          iso(event.metadata.creationTimestamp);
        if (!lastSeen || Date.parse(lastSeen) < since.getTime()) return [];
        return [
          {
            pod: event.involvedObject.name ?? '',
            type: event.type ?? 'Warning',
            reason: event.reason ?? '',
            message: (event.message ?? '').trim(),
            count: event.series?.count ?? event.count ?? 1,
            lastSeen,
          },
        ];
      });
    });
  }

  async streamLogs(
    namespace: string,
    pod: string,
    container: string,
    opts: { previous: boolean; limitBytes: number },
    sink: Writable,
  ): Promise<number> {
    const op = { verb: 'get', resource: 'pods/log', namespace };
    return this.#metrics.timed('kubernetes', 'streamLogs', async () => {
      const res = await this.#rawGet(
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`,
        {
          container,
          previous: String(opts.previous),
          limitBytes: String(opts.limitBytes),
        },
      ).catch((err: unknown) => {
        throw kubernetesError(err, op);
      });
      if (res.statusCode !== 200) throw kubernetesError(await this.#rawFailure(res), op);
      let bytes = 0;
      for await (const chunk of res) {
        const buf = chunk as Buffer;
        bytes += buf.length;
        if (!sink.write(buf)) await new Promise((resolve) => sink.once('drain', resolve));
      }
      return bytes;
    });
  }

  async exec(params: ExecParams): Promise<ExecResult> {
    const endpoint = await this.#endpoint();
    return this.#metrics.timed('kubernetes', 'exec', async () => {
      try {
        return await execInPod(endpoint, params);
      } catch (err) {
        if (err instanceof ExecError && err.failure === 'forbidden') {
          const mapped = kubernetesError(
            { code: 403, body: err.status },
            { verb: 'create', resource: 'pods/exec', namespace: params.namespace },
          );
          err.message = mapped.message;
        }
        throw err;
      }
    });
  }

  async pullFile(
    target: { namespace: string; pod: string; container: string },
    path: string,
    sink: Writable,
    opts: PullOptions = {},
  ): Promise<PulledFile> {
    const chunkBytes = opts.chunkBytes ?? 64 * 1024 * 1024;
    const retries = opts.retries ?? 3;
    const file = shellQuote(path);
    const meta = await this.#execText(
      target,
      `wc -c < ${file} && { sha256sum ${file} 2>/dev/null || echo -; }`,
      opts.timeoutMs,
    );
    const [sizeLine = '', hashLine = ''] = meta.split('\n');
    const size = Number(sizeLine.trim());
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new ExecError(
        'protocol',
        `could not read the size of ${path} in the pod (got "${sizeLine.slice(0, 40)}")`,
      );
    }
    const hash = hashLine.trim().split(/\s+/)[0];
    const sha256 = hash && /^[0-9a-f]{64}$/.test(hash) ? hash : undefined;
    let received = 0;
    let execs = 1;
    let failures = 0;
    let totalRetries = 0;
    while (received < size) {
      const length = Math.min(chunkBytes, size - received);
      execs++;
      let got: number;
      let problem: string | undefined;
      try {
        const result = await this.exec({
          ...target,
          command: ['sh', '-c', `tail -c +${received + 1} ${file} | head -c ${length}`],
          stdout: sink,
          ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
        });
        got = result.stdoutBytes;
        if (result.exitCode !== 0)
          problem = `exit code ${result.exitCode}: ${result.stderr.trim().slice(0, 200)}`;
        else if (got !== length) problem = `${got} of ${length} bytes arrived`;
      } catch (err) {
        if (
          !(err instanceof ExecError) ||
          ['forbidden', 'not-found', 'unauthorized', 'sink', 'missing-tool'].includes(err.failure)
        ) {
          if (err instanceof ExecError) err.stdoutBytes = received + err.stdoutBytes;
          throw err;
        }
        got = err.stdoutBytes;
        problem = err.message;
      }
      received += got;
      opts.onProgress?.(received, size);
      if (problem === undefined) {
        failures = 0;
        continue;
      }
      failures++;
      totalRetries++;
      if (failures > retries) {
        throw new ExecError(
          'cut',
          `pulling ${path} failed at byte ${received} of ${size} after ${retries} retries: ${problem}`,
          {
            stdoutBytes: received,
          },
        );
      }
    }
    return { size, ...(sha256 ? { sha256 } : {}), execs, retries: totalRetries };
  }

  /** Runs a short shell command and returns its stdout; non-zero exit throws. */
  async #execText(
    target: { namespace: string; pod: string; container: string },
    script: string,
    timeoutMs?: number,
  ): Promise<string> {
    const chunks: Buffer[] = [];
    const collect = new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    });
    const result = await this.exec({
      ...target,
      command: ['sh', '-c', script],
      stdout: collect,
      ...(timeoutMs ? { timeoutMs } : {}),
    });
    if (result.exitCode !== 0) {
      throw new ExecError(
        'start-failed',
        `\`${script}\` exited with ${result.exitCode}: ${result.stderr.trim().slice(0, 300)}`,
        {
          stderr: result.stderr,
        },
      );
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  servicesSelecting(
    namespace: string,
    labels: Record<string, string>,
  ): Promise<{ name: string; selector: Record<string, string> }[]> {
    return this.#call('listServices', { verb: 'list', resource: 'services', namespace }, async () => {
      const list = await this.#core.listNamespacedService({ namespace });
      return list.items.flatMap((svc) => {
        const selector = svc.spec?.selector;
        if (!selector || Object.keys(selector).length === 0) return [];
        return selectorMatches({ matchLabels: selector }, labels)
          ? [{ name: svc.metadata?.name ?? '', selector }]
          : [];
      });
    });
  }

  async replicaSetSelector(namespace: string, name: string): Promise<LabelSelector | null> {
    try {
      return await this.#call(
        'getReplicaSet',
        { verb: 'get', resource: 'replicasets.apps', namespace },
        async () => {
          const rs = await this.#apps.readNamespacedReplicaSet({ namespace, name });
          return JSON.parse(JSON.stringify(rs.spec?.selector ?? {})) as LabelSelector;
        },
      );
    } catch (err) {
      if (err instanceof KubernetesError && err.reason === 'not-found') return null;
      throw err;
    }
  }

  networkPolicies(namespace: string): Promise<{ name: string; podSelector: LabelSelector }[]> {
    return this.#call(
      'listNetworkPolicies',
      { verb: 'list', resource: 'networkpolicies.networking.k8s.io', namespace },
      async () => {
        const list = await this.#net.listNamespacedNetworkPolicy({ namespace });
        return list.items.map((p) => ({
          name: p.metadata?.name ?? '',
          podSelector: JSON.parse(JSON.stringify(p.spec?.podSelector ?? {})) as LabelSelector,
        }));
      },
    );
  }

  async patchPodMetadata(
    namespace: string,
    name: string,
    patch: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> },
  ): Promise<PodInfo> {
    try {
      return await this.#call('patchPod', { verb: 'patch', resource: 'pods', namespace }, async () => {
        const pod = await this.#core.patchNamespacedPod(
          { namespace, name, body: { metadata: patch } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return toPodInfo(pod, undefined);
      });
    } catch (err) {
      if (!mayHaveApplied(err)) throw err;
      // The API server may have applied the patch before failing to answer: the pod itself says.
      const failure = `patching pod ${name} failed (${(err as Error).message})`;
      const seen = await observeAfterFailure({
        service: 'Kubernetes',
        failure,
        read: () =>
          this.#call('getPod', { verb: 'get', resource: 'pods', namespace }, () =>
            this.#core.readNamespacedPod({ namespace, name }),
          ),
        verdict: (pod) =>
          carries(pod.metadata?.labels, patch.labels) && carries(pod.metadata?.annotations, patch.annotations)
            ? 'applied'
            : 'untouched',
        reads: 1,
        sleep: async () => {},
      });
      if (seen.verdict === 'applied') return toPodInfo(seen.current, undefined);
      throw new NotWrittenError(
        'kubernetes',
        `${failure}; the pod read back does not carry the new labels, so it was not relabelled`,
        err,
      );
    }
  }

  async deletePod(namespace: string, name: string, uid: string): Promise<'deleted' | 'gone'> {
    try {
      await this.#call('deletePod', { verb: 'delete', resource: 'pods', namespace }, () =>
        this.#core.deleteNamespacedPod({ namespace, name, body: { preconditions: { uid } } }),
      );
      return 'deleted';
    } catch (err) {
      if (err instanceof KubernetesError && (err.reason === 'not-found' || err.reason === 'conflict'))
        return 'gone';
      throw err;
    }
  }

  async createQuarantinePolicy(namespace: string, spec: QuarantinePolicySpec): Promise<'created' | 'exists'> {
    const from = spec.forensicsNamespace
      ? // client-node spells the wire's "from" as _from; its serializer writes "from".
        [
          {
            _from: [
              {
                namespaceSelector: {
                  matchLabels: { 'kubernetes.io/metadata.name': spec.forensicsNamespace },
                },
              },
            ],
          },
        ]
      : [];
    try {
      await this.#call(
        'createNetworkPolicy',
        { verb: 'create', resource: 'networkpolicies.networking.k8s.io', namespace },
        () =>
          this.#net.createNamespacedNetworkPolicy({
            namespace,
            body: {
              apiVersion: 'networking.k8s.io/v1',
              kind: 'NetworkPolicy',
              metadata: {
                name: spec.name,
                namespace,
                labels: { 'app.kubernetes.io/managed-by': 'cloud-safety' },
                annotations: { 'cloud-safety.io/incident': spec.incident },
              },
              spec: {
                podSelector: { matchLabels: { [spec.label.key]: spec.label.value } },
                policyTypes: ['Ingress', 'Egress'],
                ingress: from,
                egress: [],
              },
            },
          }),
      );
      return 'created';
    } catch (err) {
      if (err instanceof KubernetesError && err.reason === 'conflict') return 'exists';
      if (!mayHaveApplied(err)) throw err;
      // The API server may have stored the policy before failing to answer: read it.
      const failure = `creating NetworkPolicy ${spec.name} failed (${(err as Error).message})`;
      const seen = await observeAfterFailure({
        service: 'Kubernetes',
        failure,
        read: async () => {
          try {
            return await this.#call(
              'getNetworkPolicy',
              { verb: 'get', resource: 'networkpolicies.networking.k8s.io', namespace },
              () => this.#net.readNamespacedNetworkPolicy({ namespace, name: spec.name }),
            );
          } catch (readErr) {
            if (readErr instanceof KubernetesError && readErr.reason === 'not-found') return null;
            throw readErr;
          }
        },
        verdict: (policy) =>
          policy === null
            ? 'untouched'
            : policy.spec?.podSelector?.matchLabels?.[spec.label.key] === spec.label.value
              ? 'applied'
              : 'moved',
        reads: 1,
        sleep: async () => {},
      });
      if (seen.verdict === 'applied') return 'created';
      throw new NotWrittenError(
        'kubernetes',
        seen.verdict === 'untouched'
          ? `${failure}; reading it back finds no such policy, so nothing was created`
          : `${failure}; a policy of that name exists but selects other pods: check it by hand`,
        err,
      );
    }
  }

  async deleteNetworkPolicy(namespace: string, name: string): Promise<boolean> {
    try {
      await this.#call(
        'deleteNetworkPolicy',
        { verb: 'delete', resource: 'networkpolicies.networking.k8s.io', namespace },
        () => this.#net.deleteNamespacedNetworkPolicy({ namespace, name }),
      );
      return true;
    } catch (err) {
      if (err instanceof KubernetesError && err.reason === 'not-found') return false;
      throw err;
    }
  }

  async addDebugContainer(
    namespace: string,
    pod: string,
    spec: { name: string; image: string; target: string },
  ): Promise<void> {
    await this.#call(
      'addDebugContainer',
      { verb: 'patch', resource: 'pods/ephemeralcontainers', namespace },
      () =>
        this.#core.patchNamespacedPodEphemeralcontainers(
          {
            namespace,
            name: pod,
            body: {
              spec: {
                ephemeralContainers: [
                  {
                    name: spec.name,
                    image: spec.image,
                    targetContainerName: spec.target,
                    command: ['sleep', '86400'],
                    stdin: false,
                    tty: false,
                  },
                ],
              },
            },
          },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        ),
    );
  }
}

/** Loads the kubeconfig the way kubectl does: KUBECONFIG, in-cluster, then ~/.kube/config; undefined when none. */
export function loadKubeConfig(env: NodeJS.ProcessEnv): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (env.KUBECONFIG) {
    const first = env.KUBECONFIG.split(':').find((p) => p.length > 0);
    if (!first) return undefined;
    kc.loadFromFile(first);
    return kc;
  }
  if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
    return kc;
  }
  const home = env.HOME;
  if (!home) return undefined;
  try {
    kc.loadFromFile(`${home}/.kube/config`);
    return kc;
  } catch {
    return undefined;
  }
}

/** One client per context, built on first use from a kubeconfig loaded lazily (so the console starts without one). */
export class KubeClusters implements KubernetesClusters {
  #load: () => KubeConfig | undefined;
  #metrics: Metrics;
  #clusters = new Map<string, KubeCluster>();

  constructor(load: KubeConfig | (() => KubeConfig | undefined), metrics: Metrics) {
    this.#load = typeof load === 'function' ? load : () => load;
    this.#metrics = metrics;
  }

  cluster(context?: string): Kubernetes {
    const key = context ?? '';
    const existing = this.#clusters.get(key);
    if (existing) return existing;
    let base: KubeConfig | undefined;
    try {
      base = this.#load();
    } catch (err) {
      throw new KubernetesError('other', `could not read the kubeconfig: ${(err as Error).message}`, {
        verb: 'connect',
        resource: 'cluster',
        cause: err,
      });
    }
    if (!base) {
      throw new KubernetesError(
        'other',
        'no Kubernetes credentials: set KUBECONFIG, run in-cluster with a service account, or create ~/.kube/config.',
        { verb: 'connect', resource: 'cluster' },
      );
    }
    let kc = base;
    if (context) {
      if (!base.getContextObject(context)) {
        throw new KubernetesError(
          'other',
          `the kubeconfig has no context "${context}" (kubernetes.context in cloud-safety.yml)`,
          {
            verb: 'connect',
            resource: 'cluster',
          },
        );
      }
      // A KubeConfig of its own per context, so services on different clusters never share a current context.
      kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: base.getClusters(),
        users: base.getUsers(),
        contexts: base.getContexts(),
        currentContext: context,
      });
    }
    const cluster = new KubeCluster(kc, this.#metrics);
    this.#clusters.set(key, cluster);
    return cluster;
  }
}
