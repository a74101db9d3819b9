// Config sections services.*.breaker and services.*.canary: metric sources, conditions and bake.
import { z } from 'zod';
import { Duration, SecretRef } from './config-common.ts';

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
