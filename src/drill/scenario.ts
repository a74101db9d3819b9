// Drill scenarios as data: the YAML files in src/drill/scenarios/ describe a story (traffic split, memory ramp, 5xx,
// ledger divergence, faults at given times); this file validates them with zod and says exactly what is wrong.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { parseDuration } from '../duration.ts';

export const SCENARIO_DIR = join(import.meta.dirname, 'scenarios');

/** A story time such as "90s", "5m" or "1h"; read as milliseconds of story time. */
const StoryTime = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration; write e.g. 90s, 5m or 1h` });
    return z.NEVER;
  }
  return ms;
});

const Fraction = z.number().min(0).max(1);

/** The faults a drill can add, live (`/drill inject <fault>`) or at a scenario's given time. */
export const FAULTS = {
  'route53-throttling': 'Route 53 answers the next 5 requests with Throttling (HTTP 400 "Rate exceeded")',
  'fail-after-commit': 'the next Route 53 ChangeBatch commits, then answers HTTP 500 InternalFailure',
  oom: 'the cloud pod furthest from its limit is OOMKilled now (a second pod going down)',
  'legacy-unhealthy':
    "Route 53's health check on legacy turns unhealthy (2 of 8 checkers) and the ALB's legacy targets fail theirs",
  'legacy-healthy':
    "Route 53's health check on legacy is healthy again (8 of 8 checkers), and so are the ALB's legacy targets",
  'exec-slow': 'the kubelet takes 3 s to start each exec (a node under pressure)',
  'alb-throttling':
    'ELBv2 answers the next 5 ModifyListener/ModifyRule calls with Throttling (HTTP 400 "Rate exceeded")',
  'alb-fail-after-commit': 'the next ALB ModifyListener commits, then answers HTTP 500 InternalFailure',
  'pagerduty-rate-limit': 'PagerDuty answers the next 5 REST requests with 429 Rate Limit Exceeded',
  'cdc-failed':
    "the CDC connector's task fails (Debezium: replication slot in use); cloud writes stop reaching legacy",
  'cdc-restarted':
    "the CDC connector's failed task is restarted (as `POST /connectors/<name>/restart?includeTasks=true&onlyFailed=true` does)",
} as const;
export type FaultName = keyof typeof FAULTS;
const FaultName = z.enum(Object.keys(FAULTS) as [FaultName, ...FaultName[]], {
  error: (issue) => `"${String(issue.input)}" is not a fault; use one of ${Object.keys(FAULTS).join(', ')}`,
});

const Pod = z.strictObject({
  /** Pod name suffix after `<service>-cloud-<hash>-`, e.g. x2k4q. */
  name: z.string().regex(/^[a-z0-9]{5}$/, 'a pod suffix is 5 lowercase letters or digits, e.g. x2k4q'),
  /** Working set at the start, in MiB. */
  memoryMiB: z.number().positive(),
  restarts: z.number().int().min(0).default(0),
  /** When it was last OOMKilled, before the drill started (story time), if it was. */
  lastOomAgo: StoryTime.optional(),
});

const Scenario = z
  .strictObject({
    title: z.string().min(1),
    description: z.string().min(1),
    /** The service the story is about (the config's name for it, e.g. payments). */
    service: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a service name is lowercase letters, digits and -'),
    traffic: z.strictObject({
      legacy: z.number().int().min(0).max(255),
      cloud: z.number().int().min(0).max(255),
      /** Record TTL in seconds. */
      ttl: z.number().int().min(0).max(2_147_483_647),
      /** How long Route 53 takes to report INSYNC at time factor 1 (about 60 s in reality). */
      propagation: StoryTime.default(60_000),
      /** How many of 8 health checkers see legacy healthy. */
      legacyHealthyCheckers: z.number().int().min(0).max(8).default(8),
    }),
    pods: z.strictObject({
      limitMiB: z.number().int().positive(),
      /** Working set a pod comes back with after an OOMKill. */
      baselineMiB: z.number().positive(),
      /** How fast a cloud pod leaks at the starting traffic split (it scales with the cloud share). */
      leakMiBPerMinute: z.number().min(0),
      /** How fast memory comes back once a pod gets no traffic (GC catches up). */
      recoverMiBPerMinute: z.number().min(0).default(60),
      heapDumpMiB: z.number().int().positive().max(512).default(48),
      list: z.array(Pod).min(1).max(20),
    }),
    errors: z.strictObject({
      /** 5xx ratio of a healthy stack. */
      base: Fraction,
      /** 5xx ratio of the cloud stack when its worst pod sits at its limit. */
      atLimit: Fraction,
      /** Memory fraction of the limit where errors start to climb. */
      from: Fraction.default(0.75),
    }),
    ledger: z.strictObject({
      rows: z.number().int().min(20).max(200_000),
      /** Balanced pairs the cloud wrote that legacy never got. */
      missingInLegacy: z.number().int().min(0).max(10_000).default(0),
      /** Rows legacy has that the cloud lost. */
      missingInCloud: z.number().int().min(0).default(0),
      /** Rows whose amount or payload differs between the two. */
      mismatched: z.number().int().min(0).default(0),
      /** Rows with a required column NULL on the cloud side. */
      halfWritten: z.number().int().min(0).default(0),
      /** Double-entry groups whose debits and credits no longer balance on the cloud side. */
      unbalanced: z.number().int().min(0).default(0),
    }),
    /** The CDC carrying cloud writes back to legacy (Debezium on Kafka Connect): running, or failed at the start. */
    cdc: z
      .strictObject({
        state: z.enum(['RUNNING', 'FAILED']).default('RUNNING'),
        /** How long a restarted task reports RESTARTING before it runs again, at time factor 1. */
        restart: StoryTime.default(30_000),
      })
      .default({ state: 'RUNNING', restart: 30_000 }),
    faults: z.array(z.strictObject({ at: StoryTime, fault: FaultName })).default([]),
    /** The cluster's pod network: whether its plugin enforces NetworkPolicy, and how long it takes to program one. */
    network: z
      .strictObject({
        enforcesNetworkPolicy: z.boolean().default(true),
        policyDelay: StoryTime.default(2_000),
      })
      .default({ enforcesNetworkPolicy: true, policyDelay: 2_000 }),
  })
  .superRefine((s, ctx) => {
    if (s.traffic.legacy + s.traffic.cloud === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['traffic'],
        message:
          'legacy and cloud weights are both 0 (Route 53 then spreads traffic evenly); give one a weight',
      });
    if (s.pods.baselineMiB >= s.pods.limitMiB)
      ctx.addIssue({
        code: 'custom',
        path: ['pods', 'baselineMiB'],
        message: `must be below limitMiB (${s.pods.limitMiB})`,
      });
    s.pods.list.forEach((pod, i) => {
      if (pod.memoryMiB > s.pods.limitMiB)
        ctx.addIssue({
          code: 'custom',
          path: ['pods', 'list', i, 'memoryMiB'],
          message: `must be at most limitMiB (${s.pods.limitMiB}); a pod above its limit is OOMKilled`,
        });
    });
    const names = s.pods.list.map((p) => p.name);
    if (new Set(names).size !== names.length)
      ctx.addIssue({ code: 'custom', path: ['pods', 'list'], message: 'two pods have the same name' });
    const l = s.ledger;
    const touched = l.missingInCloud + l.mismatched + l.halfWritten + l.unbalanced;
    if (touched > l.rows / 4)
      ctx.addIssue({
        code: 'custom',
        path: ['ledger'],
        message: `the divergence touches ${touched} rows, more than a quarter of ${l.rows}; raise rows or lower the counts`,
      });
  });
export type Scenario = z.output<typeof Scenario> & { name: string };

export class ScenarioError extends Error {
  code = 'drill.scenario';
}

/** The names of the scenarios shipped in src/drill/scenarios/, sorted. */
export function scenarioNames(dir = SCENARIO_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .sort();
}

/** Validates an already-parsed scenario; `source` names it in messages. */
export function parseScenario(document: unknown, name: string, source = `scenario ${name}`): Scenario {
  const result = Scenario.safeParse(document ?? {});
  if (result.success) return { ...result.data, name };
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length === 0 ? '(top level)' : issue.path.map(String).join('.');
    const missing = issue.code === 'invalid_type' && /received undefined/.test(issue.message);
    return `  ${path}: ${missing ? `missing; add it (${issue.message.replace(/, received undefined$/, '').replace(/^Invalid input: /, '')})` : issue.message}`;
  });
  throw new ScenarioError(
    `${source} is not valid:\n${problems.join('\n')}\nSee src/drill/scenarios/seed.yaml for a working one (docs/drill.md describes every field).`,
  );
}

/** Loads a scenario by name from `dir`, or says which names exist. */
export function loadScenario(name: string, dir = SCENARIO_DIR): Scenario {
  const names = scenarioNames(dir);
  if (!names.includes(name)) {
    throw new ScenarioError(`There is no drill scenario "${name}"; the scenarios are: ${names.join(', ')}.`);
  }
  const path = join(dir, `${name}.yaml`);
  let document: unknown;
  try {
    document = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ScenarioError(`${path} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseScenario(document, name, path);
}
