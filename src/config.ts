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

/**
 * Who may approve one kind of action on some services: the first policy whose `kinds` and `services` both match
 * applies; an action no policy matches falls back to `access.approvers`, one approval, `access.breakGlass`.
 */
export const ApprovalPolicy = z.strictObject({
  /** A name for cards and the timeline ("ledger writes"). */
  name: z.string().min(1).optional(),
  /** Action kinds it covers (traffic.shift, ledger.reconcile...); absent: every kind. */
  kinds: z.array(z.string().min(1)).min(1).optional(),
  /** Services it covers; absent: every service. */
  services: z.array(z.string().min(1)).min(1).optional(),
  /** Who may approve (also `oncall:<escalation policy id>`: whoever PagerDuty has on call now); absent: `access.approvers`. */
  approvers: z
    .array(
      z.union([
        SlackUserOrGroup,
        z
          .string()
          .regex(/^oncall:[A-Z0-9]{5,20}$/, 'oncall:<PagerDuty escalation policy id>, like oncall:PANZZEQ'),
      ]),
    )
    .min(1)
    .optional(),
  /** How many distinct approvers (never the requester) must approve before it runs: N of M. */
  quorum: z.number().int().min(1).max(10).default(1),
  /** Whether one person may act alone with break-glass for these actions; absent: `access.breakGlass`. */
  breakGlass: z.boolean().optional(),
  /** false: members of an approver group the requester is also in may not approve (someone from outside the team must). */
  requesterTeamMayApprove: z.boolean().default(true),
});
export type ApprovalPolicy = z.infer<typeof ApprovalPolicy>;

export const Access = z.strictObject({
  responders: z.array(SlackUserOrGroup).min(1),
  approvers: z.array(SlackUserOrGroup).min(1),
  approvalTtl: Duration.default(15 * 60_000),
  breakGlass: z.boolean().default(false),
  /** Local definitions of user groups; they win over Slack's (and are the only ones in console mode). */
  groups: z.record(z.string(), z.array(z.string())).default({}),
  /** Per kind and service approval rules, first match wins; none matching: the rule above (one of `approvers`). */
  policies: z.array(ApprovalPolicy).default([]),
  /** PagerDuty user id or email -> Slack user id, for `oncall:` approvers. */
  pagerdutyUsers: z
    .record(z.string().min(1), z.string().regex(/^[UW][A-Z0-9]+$/, 'a Slack user id (U…)'))
    .default({}),
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
  /** The PagerDuty service `/incident declare` opens incidents on (the id in its URL, like PWIXJZS). */
  serviceId: z
    .string()
    .regex(
      /^[A-Z0-9]{5,20}$/,
      'a PagerDuty service id, the part after /service-directory/ in its URL, like PWIXJZS',
    )
    .optional(),
  /** Integration Key of an Events API v2 integration on the service: the breaker pages with it. */
  routingKey: SecretRef.optional(),
  /** Overrides the urgency taken from the severity (SEV1-2 high, SEV3-4 low). */
  urgency: z.enum(['high', 'low']).optional(),
});

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');
const TerraformVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, 'a Terraform variable name');
/** Variables the bot sets itself from the incident; the config may not set them too. */
export const SANDBOX_AUTO_VARS = ['incident_id', 'service', 'image', 'evidence'] as const;
const JsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.array(JsonValue), z.record(z.string(), JsonValue)]),
);

export const SandboxTerraform = z
  .strictObject({
    /** The team's Terraform root module; relative paths are from the bot's working directory. */
    dir: z.string().min(1),
    /** A .tfvars or .tfvars.json file, relative to `dir`. */
    varFile: z.string().min(1).optional(),
    /** Plain values (any JSON), passed in a var file. */
    vars: z.record(TerraformVarName, JsonValue).default({}),
    /** Secrets, by the environment variable that holds them; passed as TF_VAR_ and never echoed. */
    secretVars: z.record(TerraformVarName, z.strictObject({ env: EnvName })).default({}),
    workspacePrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{0,40}$/, 'letters, digits, - and _ only, like inc-')
      .default('inc-'),
    /** A run that takes longer is interrupted (Terraform then saves what it did). */
    timeout: Duration.default(30 * 60_000),
  })
  .superRefine((tf, ctx) => {
    for (const [field, names] of [
      ['vars', Object.keys(tf.vars)],
      ['secretVars', Object.keys(tf.secretVars)],
    ] as const) {
      for (const name of names) {
        if ((SANDBOX_AUTO_VARS as readonly string[]).includes(name)) {
          ctx.addIssue({
            code: 'custom',
            path: [field, name],
            message: `${name} is set by the bot from the incident (${SANDBOX_AUTO_VARS.join(', ')}); remove it here`,
          });
        }
      }
    }
    for (const name of Object.keys(tf.secretVars)) {
      if (Object.hasOwn(tf.vars, name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['secretVars', name],
          message: `${name} is also in vars; set it in one place`,
        });
      }
    }
  });

export const SandboxLoad = z.strictObject({
  /** The program and its arguments (no shell); outputs arrive as TF_OUTPUT_<NAME> environment variables. */
  command: z.array(z.string().min(1)).min(1),
  env: z.record(EnvName, z.string()).default({}),
  /** Working directory; default the Terraform directory. */
  cwd: z.string().min(1).optional(),
  timeout: Duration.default(10 * 60_000),
});

export const Sandbox = z.strictObject({
  terraform: SandboxTerraform,
  /** Time from `/sandbox up` to the automatic teardown. */
  ttl: Duration.refine((ms) => ms >= 1000, 'a sandbox lives at least 1s; write it like 4h').default(
    4 * 3_600_000,
  ),
  /** First wait before a failed teardown is retried; it doubles up to 30m, forever. */
  destroyRetry: Duration.refine((ms) => ms >= 1000, 'at least 1s').default(2 * 60_000),
  load: SandboxLoad.optional(),
});
export type Sandbox = z.infer<typeof Sandbox>;
/** A DNS name as Route 53 stores it: lower-case, with the trailing dot. */
function dnsName(name: string): string {
  const lower = name.trim().toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** Step C, DNS layer: the weighted record pair /contain shifts (the SetIdentifiers of legacy and cloud). */
export const Route53Traffic = z
  .strictObject({
    hostedZoneId: z
      .string()
      .regex(/^(\/hostedzone\/)?[A-Z0-9]{1,32}$/, 'a hosted zone id like Z0123456789ABCDEFGHIJ')
      .transform((id) => id.replace(/^\/hostedzone\//, '')),
    recordName: z
      .string()
      .regex(/^(\*\.)?([a-zA-Z0-9_-]+\.)*[a-zA-Z0-9_-]+\.?$/, 'a DNS name like api.payments.example.com')
      .transform(dnsName),
    recordType: z
      .enum(['A', 'AAAA', 'CNAME', 'TXT', 'MX', 'SRV', 'CAA', 'NS', 'PTR', 'SPF', 'NAPTR', 'DS'])
      .default('A'),
    /** SetIdentifier of the stable legacy record. */
    legacy: z.string().min(1).max(128),
    /** SetIdentifier of the new cloud record. */
    cloud: z.string().min(1).max(128),
    /** Seconds; a higher TTL gets a warning on the card (clients keep resolving the old answer that long). */
    maxTtl: z.number().int().min(0).max(86_400).default(60),
  })
  .refine((r) => r.legacy !== r.cloud, { message: 'legacy and cloud must be different SetIdentifiers' });
export type Route53Traffic = z.infer<typeof Route53Traffic>;

const ElbArn = (kind: string) =>
  z
    .string()
    .regex(
      new RegExp(`^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\\d{12}:${kind}/`),
      `an Elastic Load Balancing ${kind} ARN (arn:aws:elasticloadbalancing:<region>:<account>:${kind}/…)`,
    );

/** Step C, load-balancer layer: a weighted forward action between two target groups (effective at once). */
export const AlbTraffic = z
  .strictObject({
    listenerArn: ElbArn('listener'),
    /** The listener rule whose forward action is weighted; without it, the listener's default action. */
    ruleArn: ElbArn('listener-rule').optional(),
    legacyTargetGroupArn: ElbArn('targetgroup'),
    cloudTargetGroupArn: ElbArn('targetgroup'),
  })
  .refine((a) => a.legacyTargetGroupArn !== a.cloudTargetGroupArn, {
    message: 'legacyTargetGroupArn and cloudTargetGroupArn must be different target groups',
  });
export type AlbTraffic = z.infer<typeof AlbTraffic>;

export const Traffic = z
  .strictObject({ route53: Route53Traffic.optional(), alb: AlbTraffic.optional() })
  .refine((t) => t.route53 !== undefined || t.alb !== undefined, {
    message: 'configure traffic.route53, traffic.alb or both',
  });
export type Traffic = z.infer<typeof Traffic>;
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
/** A PostgreSQL identifier as written in the config; the adapter quotes it, it is never interpolated raw. */
const Identifier = z
  .string()
  .min(1)
  .max(63)
  .refine((s) => !s.includes('.') && !s.includes('\u0000'), 'a column or role name (no dots, no NUL)');

/** A connection string, or the name of the environment variable that holds it (keeps passwords out of the file). */
export const ConnectionRef = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') }),
  z
    .string()
    .min(1)
    .refine((s) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(s) || /^postgres(?:ql)?:\/\//.test(s) || s.includes('='), {
      message:
        'a postgres:// URL, a libpq "key=value" string, or the name of an environment variable holding one',
    }),
]);
export type ConnectionRef = z.infer<typeof ConnectionRef>;

/** The connection string a ConnectionRef names: a bare NAME is an environment variable. */
export function resolveConnection(
  ref: ConnectionRef,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (typeof ref === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(ref))
    return resolveSecret({ env: ref }, path, env);
  return resolveSecret(ref, path, env);
}

const LagBytes = z
  .number()
  .int()
  .positive()
  .default(64 * 1024 * 1024);

export const LedgerCdc = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('pg-subscription'),
    subscription: Identifier,
    /** The side that runs the subscription (the other side publishes). */
    subscriber: z.enum(['legacy', 'cloud']).default('legacy'),
    /** The publisher's slot (default: the subscription name). */
    slot: Identifier.optional(),
    maxLag: Duration.default(60_000),
    maxLagBytes: LagBytes,
  }),
  z.strictObject({
    kind: z.literal('pg-slot'),
    slot: Identifier,
    /** The side the slot lives on (the source of the changes). */
    on: z.enum(['legacy', 'cloud']).default('cloud'),
    maxLagBytes: LagBytes,
  }),
  z.strictObject({
    kind: z.literal('debezium'),
    /** Kafka Connect REST base, e.g. http://connect:8083 */
    url: z.url({ protocol: /^https?$/ }),
    connector: z.string().min(1),
    /** "user:password" for basic auth, by environment variable. */
    auth: SecretRef.optional(),
  }),
]);
export type LedgerCdc = z.infer<typeof LedgerCdc>;

export const LedgerConfig = z
  .strictObject({
    legacy: ConnectionRef,
    cloud: ConnectionRef,
    /** "ledger_entries" or "schema.ledger_entries". */
    table: z
      .string()
      .refine(
        (s) => !s.includes('\u0000') && /^[^.]{1,63}(?:\.[^.]{1,63})?$/.test(s),
        'a table name, optionally schema-qualified: public.ledger',
      ),
    /** The unique key column. */
    key: Identifier,
    /** The columns compared between the two sides. */
    columns: z.array(Identifier).min(1),
    /** The timestamp column that says when a row was last written; the window is cut on it. */
    updatedAt: Identifier,
    /** Columns that must be neither NULL nor empty; rows breaking this are `partial`. */
    required: z.array(Identifier).default([]),
    doubleEntry: z
      .strictObject({
        group: Identifier,
        amount: Identifier,
        side: Identifier,
        debit: z.string().default('debit'),
        credit: z.string().default('credit'),
      })
      .optional(),
    /** How far back an audit looks when no since= is given. */
    window: Duration.default(2 * 3_600_000),
    cdc: LedgerCdc.optional(),
    lock: z.strictObject({ role: Identifier }).optional(),
    bucketRows: z.number().int().min(100).max(10_000_000).default(50_000),
    maxDifferences: z.number().int().min(1).max(1_000_000).default(10_000),
    /** How long any ledger query waits for a table lock before giving up and naming the holder. */
    lockTimeout: Duration.default(10_000),
    /** How long one ledger query may run (a scan of a very large window is one query per page range). */
    statementTimeout: Duration.default(30 * 60_000),
  })
  .refine((l) => !l.columns.includes(l.key), {
    message: 'the key identifies a row and is not one of the compared columns; remove it from columns',
    path: ['columns'],
  })
  .refine((l) => new Set(l.columns).size === l.columns.length, {
    message: 'a column is listed twice',
    path: ['columns'],
  });
export type LedgerConfig = z.infer<typeof LedgerConfig>;

/** A CloudWatch metric the breaker reads (GetMetricData's MetricStat). */
export const CloudWatchMetric = z.strictObject({
  namespace: z.string().min(1),
  metricName: z.string().min(1),
  dimensions: z.record(z.string().min(1), z.string()).default({}),
  /** Average, Maximum, Sum, SampleCount, p99... */
  stat: z.string().min(1).default('Average'),
});

/**
 * A breaker query: PromQL for a Prometheus source; for CloudWatch, a metric math or Metrics Insights expression,
 * optionally over named metrics (`metrics: { m1: {...} }, expression: "m1 / 100"`).
 */
export const BreakerQuery = z.union([
  z.string().min(1),
  z.strictObject({
    expression: z.string().min(1),
    metrics: z
      .record(
        z.string().regex(/^[a-z][a-zA-Z0-9_]*$/, 'an id like m1 (lower-case first letter)'),
        CloudWatchMetric,
      )
      .default({}),
  }),
]);
export type BreakerQuery = z.infer<typeof BreakerQuery>;

export const BreakerSource = z.union([
  z.strictObject({
    /** Base URL of the Prometheus HTTP API (without /api/v1). */
    prometheus: z.url(),
    token: SecretRef.optional(),
  }),
  z.strictObject({
    cloudwatch: z.strictObject({
      region: z
        .string()
        .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region like us-east-1')
        .optional(),
      /** Period of each datapoint. */
      period: Duration.refine((ms) => ms >= 1000 && ms % 1000 === 0, 'whole seconds, at least 1s').default(
        60_000,
      ),
      /** How far back the newest datapoint may be; older means no data. */
      lookback: Duration.refine((ms) => ms >= 60_000, 'at least 1m').default(5 * 60_000),
    }),
  }),
]);
export type BreakerSource = z.infer<typeof BreakerSource>;

/** How a canary step (and, with `breaker: true`, every breaker evaluation) compares cloud with legacy. */
export const Comparison = z.strictObject({
  /** Smallest relative change of the median that counts as worse (0.1 = 10 %). */
  effect: z.number().gt(0).max(10).default(0.1),
  /** How sure the test must be (0.95: a difference this large shows by chance less than 5 % of the time). */
  confidence: z.number().gt(0.5).lt(1).default(0.95),
  /** Fewer values than this on either side is "not enough data". */
  minSamples: z.number().int().min(3).max(10_000).default(10),
});
export type Comparison = z.infer<typeof Comparison>;

/** A named condition of the breaker: a query, which side of the threshold is bad, and optional guards. */
export const Condition = z
  .strictObject({
    /** PromQL (Prometheus) or an expression (CloudWatch); `{stack}` becomes the stack's name (stacks.cloud/legacy). */
    query: BreakerQuery,
    /** Bad when the value is above this. */
    above: z.number().optional(),
    /** Bad when the value is below this. */
    below: z.number().optional(),
    /** How values are shown: ratio as %, seconds as ms/s, number as is. */
    unit: z.enum(['ratio', 'seconds', 'number']).default('number'),
    /** Query answering above 0 with enough traffic to judge and 0 without; with too little the condition is skipped. */
    minTraffic: BreakerQuery.optional(),
    /** Compare cloud with legacy on canary steps (Mann–Whitney U); `true` takes breaker.compare's settings. */
    compare: z.union([z.boolean(), Comparison]).default(false),
  })
  .superRefine((c, ctx) => {
    if ((c.above === undefined) === (c.below === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['above'],
        message: 'give exactly one of above: <threshold> or below: <threshold>',
      });
    }
  });
export type Condition = z.infer<typeof Condition>;

/** Step D: the circuit breaker that shifts traffic back to legacy with no human in the loop. */
export const Breaker = z
  .strictObject({
    source: BreakerSource,
    /** Memory of the cloud pods as a fraction of their limit (0.93 = 93%); the worst series counts. */
    memory: BreakerQuery.optional(),
    /** Share of cloud requests answered 5xx (0.02 = 2%). `{minRps}` is replaced by minRps when it is a number. */
    errors: BreakerQuery.optional(),
    /** Any number of named conditions beside (or instead of) memory and errors. */
    conditions: z
      .record(z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'a name like latency or p99-latency'), Condition)
      .default({}),
    /** What `{stack}` becomes in a condition's query for each stack. */
    stacks: z
      .strictObject({
        cloud: z.string().min(1).default('cloud'),
        legacy: z.string().min(1).default('legacy'),
      })
      .prefault({}),
    /** Defaults of the cloud-against-legacy comparison. */
    compare: Comparison.prefault({}),
    /**
     * Minimum traffic to judge the error ratio: a number (requests/s, put into the queries' `{minRps}`), or a
     * query answering above 0 when there is enough traffic and 0 when there is not (then only memory decides).
     */
    minRps: z.union([z.number().positive(), BreakerQuery]).optional(),
    thresholds: z
      .strictObject({
        memory: z.number().gt(0).max(10).default(0.8),
        errors: z.number().gt(0).max(1).default(0.01),
      })
      .prefault({}),
    interval: Duration.refine((ms) => ms >= 1000, 'at least 1s, like 30s').default(30_000),
    /** Consecutive breaches that trip the breaker. */
    failureLimit: z.number().int().min(1).max(20).default(3),
    /** Consecutive inconclusive evaluations (errors, NaN, no data) before the channel and on-call are alerted. */
    errorLimit: z.number().int().min(1).max(100).default(4),
    /** `rollback`: errorLimit inconclusive evaluations in a row trip the breaker too. */
    onNoData: z.enum(['alert', 'rollback']).default('alert'),
  })
  .superRefine((b, ctx) => {
    const prometheus = 'prometheus' in b.source;
    const promql = 'a Prometheus source takes a PromQL string here; expression/metrics are for CloudWatch';
    for (const field of ['memory', 'errors', 'minRps'] as const) {
      const q = b[field];
      if (prometheus && q !== undefined && typeof q === 'object') {
        ctx.addIssue({ code: 'custom', path: [field], message: promql });
      }
    }
    const text = (q: BreakerQuery | undefined) =>
      q === undefined ? '' : typeof q === 'string' ? q : q.expression;
    if (b.memory === undefined && b.errors === undefined && Object.keys(b.conditions).length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['conditions'],
        message: 'the breaker watches nothing: give memory and errors queries, or at least one condition',
      });
    }
    for (const [name, c] of Object.entries(b.conditions)) {
      if ((name === 'memory' && b.memory !== undefined) || (name === 'errors' && b.errors !== undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['conditions', name],
          message: `${name} is already the breaker's ${name} query; give this condition another name`,
        });
      }
      for (const field of ['query', 'minTraffic'] as const) {
        if (prometheus && typeof c[field] === 'object') {
          ctx.addIssue({ code: 'custom', path: ['conditions', name, field], message: promql });
        }
      }
      const dimensions = typeof c.query === 'string' ? [] : Object.values(c.query.metrics);
      const named =
        text(c.query).includes('{stack}') ||
        dimensions.some((m) => Object.values(m.dimensions).some((v) => v.includes('{stack}')));
      if (c.compare !== false && !named) {
        ctx.addIssue({
          code: 'custom',
          path: ['conditions', name, 'compare'],
          message:
            'comparing cloud with legacy runs the same query for both stacks: put {stack} where the stack name goes, like service="payments-{stack}"',
        });
      }
    }
    if (typeof b.minRps === 'number' && !text(b.errors).includes('{minRps}')) {
      ctx.addIssue({
        code: 'custom',
        path: ['minRps'],
        message:
          'minRps is a number, but errors has no {minRps} placeholder to put it in; add the traffic guard to the errors query or make minRps a query',
      });
    }
    if (b.minRps === undefined && text(b.errors).includes('{minRps}')) {
      ctx.addIssue({
        code: 'custom',
        path: ['errors'],
        message: 'errors uses {minRps}: set minRps (requests per second) too',
      });
    }
  });
export type Breaker = z.infer<typeof Breaker>;

/** Step D: defaults of /canary start for a service. */
export const Canary = z.strictObject({
  /** Cloud share of each step, in percent, increasing; the last is where the canary ends. */
  steps: z
    .array(z.number().int().min(1).max(100))
    .min(1)
    .max(20)
    .refine(
      (s) => s.every((v, i) => i === 0 || v > (s[i - 1] ?? 0)),
      'steps must increase, like [1, 5, 25, 50]',
    )
    .default([1, 5, 25, 50]),
  /** How long each step is held while the breaker evaluates (at least three breaker intervals). */
  bake: Duration.refine((ms) => ms >= 1000, 'at least 1s').default(10 * 60_000),
});
export type Canary = z.infer<typeof Canary>;

/** Label values an alert must carry to belong to a service: a value, or any of a list. */
const LabelMatchers = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a Prometheus label name'),
    z.union([z.string(), z.array(z.string()).min(1)]),
  )
  .refine((m) => Object.keys(m).length > 0, {
    message: 'name at least one label, e.g. { service: payments }',
  });

/** Alerts in (flows/integrations/alerts.ts): which alerts belong to this service and what they may do. */
export const ServiceAlerts = z.strictObject({
  /** Every label listed must match (a list means any of its values). */
  match: LabelMatchers,
  severity: z.enum(['SEV1', 'SEV2', 'SEV3', 'SEV4']).default('SEV2'),
  /** A firing alert also asks for `/contain` (legacy 100%); it still needs the usual two-person approval. */
  requestContain: z.boolean().default(false),
});
export type ServiceAlerts = z.infer<typeof ServiceAlerts>;

export const Service = z
  .strictObject({
    /** Channel where automation (a breaker trip) declares an incident when none is open. */
    channel: z.string().optional(),
    /** Where stakeholders follow the incident: declare links and status updates are posted there. */
    announce: z.string().optional(),
    /** Slack user ids invited to the incident's own channel. */
    responders: z.array(z.string().min(1)).optional(),
    pagerduty: PagerDuty.optional(),
    sandbox: Sandbox.optional(),
    traffic: Traffic.optional(),
    kubernetes: KubernetesSection.optional(),
    ledger: LedgerConfig.optional(),
    breaker: Breaker.optional(),
    canary: Canary.optional(),
    alerts: ServiceAlerts.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.alerts && !s.channel) {
      ctx.addIssue({
        code: 'custom',
        path: ['channel'],
        message:
          'alerts declare incidents in the service channel: set channel (a Slack channel id like C0123ABCD)',
      });
    }
    if (s.breaker && s.canary && s.canary.bake < 3 * s.breaker.interval) {
      ctx.addIssue({
        code: 'custom',
        path: ['canary', 'bake'],
        message: `a step must bake at least three breaker intervals (${(3 * s.breaker.interval) / 1000}s) so the breaker can judge it`,
      });
    }
  });
export type Service = z.infer<typeof Service>;

const RoleName = z.string().regex(/^[a-z][a-z0-9-]{0,29}$/, 'a role name in lower case, like comms');

/** The incident lifecycle: roles, update cadence, reminders and the channel per incident. */
export const IncidentSettings = z.strictObject({
  /** Roles `/incident role` assigns; commander is always one of them. */
  roles: z
    .array(RoleName)
    .min(1)
    .refine((r) => r.includes('commander'), 'the roles must include commander')
    .refine((r) => new Set(r).size === r.length, 'a role is listed twice')
    .default(['commander', 'comms', 'scribe']),
  /** SEV1-2 incidents without a status update for this long get a reminder to the commander and comms lead. */
  updateEvery: Duration.refine((ms) => ms >= 60_000, 'at least 1m').default(30 * 60_000),
  /** The role reminded with the commander, and who posts stakeholder updates. */
  commsRole: RoleName.default('comms'),
  /** After resolve, the commander is reminded to draft the post-mortem after this long. */
  postmortemAfter: Duration.default(60 * 60_000),
  /** A dedicated channel per incident (`<prefix>-<n>-<service>`); `channel=here` declares in the current one. */
  channels: z
    .strictObject({
      create: z.boolean().default(false),
      prefix: z
        .string()
        .regex(/^[a-z0-9][a-z0-9_-]{0,20}$/, 'lower-case letters, digits, - and _, like inc')
        .default('inc'),
      private: z.boolean().default(false),
    })
    .default({ create: false, prefix: 'inc', private: false }),
});
export type IncidentSettings = z.infer<typeof IncidentSettings>;

export const ServiceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'service names are lower-case letters, digits and dashes, like payments');

/** A URL that timeline events are POSTed to, signed with HMAC-SHA256 (flows/integrations/webhooks.ts). */
export const OutboundWebhook = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}$/, 'a short name like siem (lower-case letters, digits, dashes)'),
  url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }),
  secret: SecretRef,
  /** Event kinds to send: exact (`incident.declared`) or a prefix ending in `*` (`action.*`); default all. */
  kinds: z
    .array(z.string().regex(/^[a-z_.]*\*?$/, 'an event kind or a prefix ending in *'))
    .min(1)
    .default(['*']),
});
export type OutboundWebhook = z.infer<typeof OutboundWebhook>;

const HttpsUrl = z.url({ protocol: /^https?$/, error: 'an http(s) URL' });

/** Where `/postmortem` files its follow-ups (flows/integrations/postmortem-out.ts); every one configured gets them. */
export const FollowUps = z.strictObject({
  github: z
    .strictObject({
      repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'owner/name, like acme/payments'),
      token: SecretRef,
      labels: z.array(z.string().min(1)).default(['postmortem']),
      apiUrl: HttpsUrl.optional(),
    })
    .optional(),
  jira: z
    .strictObject({
      site: HttpsUrl,
      project: z.string().regex(/^[A-Z][A-Z0-9_]{0,9}$/, 'a Jira project key, like OPS'),
      issueType: z.string().min(1).default('Task'),
      email: SecretRef,
      token: SecretRef,
      labels: z.array(z.string().regex(/^\S+$/, 'a label without spaces')).default(['postmortem']),
    })
    .optional(),
  linear: z
    .strictObject({
      teamId: z.uuid({ error: "the team's UUID (Settings → Teams → copy ID), not its short key" }),
      apiKey: SecretRef,
      apiUrl: HttpsUrl.optional(),
    })
    .optional(),
});
export type FollowUps = z.infer<typeof FollowUps>;

/** Where `/postmortem` publishes the draft as a page, updated in place on re-run. */
export const Publish = z.strictObject({
  confluence: z
    .strictObject({
      site: HttpsUrl,
      spaceKey: z.string().min(1),
      parentId: z
        .string()
        .regex(/^[0-9]+$/, 'a page id (the number in the page URL)')
        .optional(),
      email: SecretRef,
      token: SecretRef,
    })
    .optional(),
  notion: z
    .strictObject({
      parentPageId: z
        .string()
        .regex(/^[0-9a-f-]{32,36}$/i, 'a Notion page id (32 hex digits, dashes allowed)'),
      token: SecretRef,
      apiUrl: HttpsUrl.optional(),
    })
    .optional(),
});
export type Publish = z.infer<typeof Publish>;

/** Integrations (docs/integrations.md): the HTTP receivers and API, outbound events, follow-ups and publishing. */
export const Integrations = z.strictObject({
  /** Bearer token for POST /hooks/* and the /api/v1 API (Authorization: Bearer <token>). */
  token: SecretRef.optional(),
  /** HMAC-SHA256 secret: a receiver also accepts a body signed with it (X-Cloud-Safety-Signature or Grafana's header). */
  hmacSecret: SecretRef.optional(),
  /** Grafana's HMAC headers, when changed from its defaults in the contact point. */
  grafanaSignatureHeader: z.string().default('X-Grafana-Alerting-Signature'),
  grafanaTimestampHeader: z.string().default('X-Grafana-Alerting-Timestamp'),
  webhooks: z
    .array(OutboundWebhook)
    .default([])
    .refine((hooks) => new Set(hooks.map((h) => h.name)).size === hooks.length, {
      message: 'two webhooks share a name; each needs its own (deliveries are tracked by name)',
    }),
  /** Outbound retries: the first after `retryBase`, doubling up to `retryMax`, at most `attempts` tries in all. */
  retryBase: Duration.default(5000),
  retryMax: Duration.default(15 * 60_000),
  attempts: z.number().int().min(1).max(50).default(12),
  followUps: FollowUps.optional(),
  publish: Publish.optional(),
  /** The bot's public URL, for links back to the incident from issues and pages when Slack has no permalink. */
  publicUrl: z.url().optional(),
});
export type Integrations = z.infer<typeof Integrations>;

export const Config = z.strictObject({
  integrations: Integrations.optional(),
  access: Access,
  evidence: Evidence.default({ dir: './evidence' }),
  timeline: Timeline.default({ pinReaction: 'pushpin' }),
  incident: IncidentSettings.default(IncidentSettings.parse({})),
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
  const problems = result.error.issues.map((issue) => {
    // A bad record key (a service name) carries the key's own problem one level down.
    const inner = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
    return `  ${formatPath(issue.path)}: ${inner ?? issue.message}`;
  });
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
