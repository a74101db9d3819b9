// The schema of cloud-safety.yml: every section the bot reads, validated at start with errors that name the path.
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { ConfigError } from './errors.ts';

/** "15m", "4h", "30s" or a number of milliseconds; produces milliseconds. */
export const Duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === 'number' ? value : parseDuration(value);
  if (ms === undefined || ms < 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration; write it like 30s, 15m or 4h` });
    return z.NEVER;
  }
  return ms;
});

/** A secret is never written in the file: name the environment variable that holds it. */
export const SecretRef = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }),
  z.string().min(1),
]);
export type SecretRef = z.infer<typeof SecretRef>;

/** Reads a secret reference: `{ env: NAME }` or a plain value; `path` names it in the error. */
export function resolveSecret(ref: SecretRef, path: string, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof ref === 'string') return ref;
  const value = env[ref.env];
  if (value === undefined || value === '') {
    throw new ConfigError(
      `${path} names the environment variable ${ref.env}, which is not set; export it and restart`,
    );
  }
  return value;
}

const SlackUserOrGroup = z
  .string()
  .regex(/^(@[a-z0-9._-]+|[A-Za-z0-9._-]+|\*)$/i, 'a Slack user id (U…), a user-group handle (@name) or "*"');

export const Access = z.strictObject({
  responders: z.array(SlackUserOrGroup).min(1),
  approvers: z.array(SlackUserOrGroup).min(1),
  approvalTtl: Duration.default(15 * 60_000),
  breakGlass: z.boolean().default(false),
  /** Local definitions of user groups; they win over Slack's (and are the only ones in console mode). */
  groups: z.record(z.string(), z.array(z.string())).default({}),
});
export type Access = z.infer<typeof Access>;

export const Evidence = z.union([
  z.strictObject({ dir: z.string().min(1) }),
  z.strictObject({
    s3: z.strictObject({
      bucket: z.string().min(1),
      prefix: z.string().default(''),
      region: z.string().optional(),
    }),
  }),
]);
export type Evidence = z.infer<typeof Evidence>;

export const Timeline = z.strictObject({
  /** Reacting with this emoji to a message in the incident channel puts it on the timeline. */
  pinReaction: z
    .string()
    .regex(/^[a-z0-9_+-]+$/, 'an emoji name without colons, like pushpin')
    .default('pushpin'),
});

export const PagerDuty = z.strictObject({
  serviceId: z.string().min(1).optional(),
  routingKey: SecretRef.optional(),
  urgency: z.enum(['high', 'low']).default('high'),
});

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

export const Service = z.strictObject({
  /** Channel where automation (a breaker trip) declares an incident when none is open. */
  channel: z.string().optional(),
  pagerduty: PagerDuty.optional(),
  kubernetes: KubernetesSection.optional(),
});
export type Service = z.infer<typeof Service>;

export const ServiceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'service names are lower-case letters, digits and dashes, like payments');

export const Config = z.strictObject({
  access: Access,
  evidence: Evidence.default({ dir: './evidence' }),
  timeline: Timeline.default({ pinReaction: 'pushpin' }),
  services: z.record(ServiceName, Service).refine((services) => Object.keys(services).length > 0, {
    message: 'configure at least one service',
  }),
});
export type Config = z.infer<typeof Config>;

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** Validates an already-parsed document; `source` names the file in messages. */
export function parseConfig(document: unknown, source: string): Config {
  const result = Config.safeParse(document ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  ${formatPath(issue.path)}: ${issue.message}`);
  throw new ConfigError(
    `${source} is not valid:\n${problems.join('\n')}\nSee cloud-safety.example.yml for a working file.`,
  );
}

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : String(err);
    throw new ConfigError(
      `${path} ${reason}. Copy cloud-safety.example.yml to cloud-safety.yml (or set CLOUD_SAFETY_CONFIG) and edit it.`,
    );
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError(`${path} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseConfig(document, path);
}
