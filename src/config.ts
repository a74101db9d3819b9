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

export const Service = z.strictObject({
  /** Channel where automation (a breaker trip) declares an incident when none is open. */
  channel: z.string().optional(),
  pagerduty: PagerDuty.optional(),
  ledger: LedgerConfig.optional(),
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
