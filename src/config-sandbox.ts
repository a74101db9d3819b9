// Config section services.*.sandbox: the Terraform sandbox and its load test.
import { z } from 'zod';
import { Duration } from './config-common.ts';

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
