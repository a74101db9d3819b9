// Creates the quarantine NetworkPolicy, reading it back when the API server may have stored it anyway.
import type { NetworkingV1Api } from '@kubernetes/client-node';
import { NotWrittenError, observeAfterFailure } from '../../outcome.ts';
import { mayHaveApplied } from './errors.ts';
import { KubernetesError, type QuarantinePolicySpec } from './types.ts';

/** A timed API call whose failures come back as KubernetesError (KubeCluster's wrapper). */
export type KubeCall = <T>(
  operation: string,
  op: { verb: string; resource: string; namespace: string },
  fn: () => Promise<T>,
) => Promise<T>;

export async function createQuarantinePolicy(
  call: KubeCall,
  net: NetworkingV1Api,
  namespace: string,
  spec: QuarantinePolicySpec,
): Promise<'created' | 'exists'> {
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
    await call(
      'createNetworkPolicy',
      { verb: 'create', resource: 'networkpolicies.networking.k8s.io', namespace },
      () =>
        net.createNamespacedNetworkPolicy({
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
          return await call(
            'getNetworkPolicy',
            { verb: 'get', resource: 'networkpolicies.networking.k8s.io', namespace },
            () => net.readNamespacedNetworkPolicy({ namespace, name: spec.name }),
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
