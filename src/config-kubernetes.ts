// Config section services.*.kubernetes: the cluster, workload and profiling steps.
import { z } from 'zod';
import { Duration, SecretRef } from './config-common.ts';

const KubernetesName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'a Kubernetes name: lower-case letters, digits and dashes');

export const ProfileStep = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a short name like heap or threads'),
  kind: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'what the evidence is, like heap-dump or thread-dump'),
  /** Runs under sh -c in the container and writes {file}; {pid} and {dir} are filled in too. */
  command: z
    .string()
    .min(1)
    .refine((c) => c.includes('{file}'), 'the command must write the artifact to {file}'),
  extension: z.string().regex(/^[a-z0-9][a-z0-9.]{0,30}$/, 'a file extension like hprof.gz'),
  /** Free memory needed first, as a fraction of the container's current use. */
  headroom: z.number().min(0).max(10).optional(),
});

const DEFAULT_PROMETHEUS_QUERY =
  '100 * max by (pod) (container_memory_working_set_bytes{namespace="{namespace}",container="{container}",pod=~"{pods}"}) / max by (pod) (kube_pod_container_resource_limits{namespace="{namespace}",container="{container}",pod=~"{pods}",resource="memory"})';

export const KubernetesSection = z.strictObject({
  /** kubeconfig context; the current one when left out. */
  context: z.string().min(1).optional(),
  namespace: KubernetesName,
  /** Label selector of the failing pods, like app=payments,track=cloud */
  selector: z.string().min(1),
  /** The application container (exec, logs, limits). */
  container: KubernetesName,
  runtime: z.enum(['jvm', 'node', 'go', 'python']),
  /** The process to dump, as the container sees it. */
  pid: z.number().int().positive().default(1),
  /** Where dumps are written inside the pod before they are pulled out (mount an emptyDir with room here). */
  scratchDir: z
    .string()
    .regex(/^\/[A-Za-z0-9._/-]*$/, 'an absolute path of letters, digits, dots, dashes and slashes')
    .default('/tmp'),
  /** Replaces the default steps for a runtime. */
  profiles: z
    .strictObject({
      jvm: z.array(ProfileStep).min(1).optional(),
      node: z.array(ProfileStep).min(1).optional(),
      go: z.array(ProfileStep).min(1).optional(),
      python: z.array(ProfileStep).min(1).optional(),
    })
    .optional(),
  /** The only namespace quarantined pods accept traffic from. */
  forensicsNamespace: KubernetesName.optional(),
  maxQuarantine: z.number().int().min(1).max(20).default(3),
  /** At most this fraction of the ready pods may be isolated at once. */
  maxQuarantineFraction: z.number().gt(0).max(1).default(0.5),
  quarantineTtl: Duration.default(4 * 3_600_000),
  /** What `/telemetry release` does with quarantined pods: give them back to their ReplicaSet, or delete them. */
  release: z.enum(['return', 'delete']).default('return'),
  /** What happens when the quarantine expires with nobody releasing it. */
  onExpiry: z.enum(['return', 'delete']).default('delete'),
  /** Image for an ephemeral debug container when the application image lacks the dump tool. */
  debugImage: z.string().min(1).optional(),
  prometheus: z
    .strictObject({
      url: z.url(),
      token: SecretRef.optional(),
      /** Memory % of limit per pod; {namespace}, {container} and {pods} (a regex of pod names) are filled in. */
      query: z.string().min(1).default(DEFAULT_PROMETHEUS_QUERY),
      window: Duration.default(30 * 60_000),
      step: Duration.default(30_000),
    })
    .optional(),
  capture: z
    .strictObject({
      /** Per exec (a heap dump, a chunk pull). */
      timeout: Duration.default(10 * 60_000),
      chunkBytes: z
        .number()
        .int()
        .min(1024 * 1024)
        .default(64 * 1024 * 1024),
      retries: z.number().int().min(0).max(10).default(3),
      /** Previous container logs kept per pod. */
      logBytes: z
        .number()
        .int()
        .min(1024)
        .default(10 * 1024 * 1024),
    })
    .prefault({}),
});
export type KubernetesSection = z.infer<typeof KubernetesSection>;
