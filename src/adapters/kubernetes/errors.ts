// Maps Kubernetes API failures (ApiException, Status bodies, network errors) to KubernetesError.
import { KubernetesError } from './types.ts';

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

/** A write that failed with a 5xx or got no answer may still have been applied by the API server. */
export function mayHaveApplied(err: unknown): boolean {
  return err instanceof KubernetesError && (err.status === undefined || err.status >= 500);
}
