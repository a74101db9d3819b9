// Config section services.*.ledger: the ledger database, its connection and CDC.
import { z } from 'zod';
import { Duration, SecretRef, resolveSecret } from './config-common.ts';

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
