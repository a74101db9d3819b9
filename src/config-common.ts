// Shared config types: durations and secret references, used by every section.
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
