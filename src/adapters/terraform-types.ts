// The Terraform port and the shapes it takes and returns: targets, stages, outputs and run results.
import type { ProgressEvent } from '../sandbox.ts';

/** Where and with what one run happens. */
export interface TerraformTarget {
  /** The root module directory. */
  dir: string;
  workspace: string;
  /** Plain values, written to a private .tfvars.json for the run (an undeclared name is a warning). */
  vars: Record<string, unknown>;
  /** Passed as TF_VAR_<name>: never on a command line nor on disk, and silently unused when not declared. */
  envVars: Record<string, unknown>;
  /** Secret variables: Terraform variable name -> the environment variable holding the value (TF_VAR_, hidden). */
  secretEnv: Record<string, string>;
  /** The team's own var files (absolute paths), before ours. */
  varFiles: string[];
  /** A run that takes longer is interrupted (SIGINT, so Terraform saves its state) and reported as failed. */
  timeoutMs?: number;
}

export type TerraformStage = 'init' | 'workspace' | 'apply' | 'destroy' | 'delete';

export interface TerraformOutput {
  name: string;
  sensitive: boolean;
  /** Absent for sensitive outputs in apply results; present in `outputs()` (for the load command only). */
  value?: unknown;
}

export interface TerraformRunResult {
  ok: boolean;
  /** The stage that failed, or the last one run. */
  stage: TerraformStage;
  /** True once the workspace exists (something may have been created in it). */
  workspaceReady: boolean;
  /** Terraform's own error lines, secrets hidden. */
  errors: string[];
  warnings: string[];
  changes?: { add: number; change: number; remove: number };
  outputs: TerraformOutput[];
  timedOut: boolean;
  /** After an apply: resource instances the workspace's state holds (what exists), when it could be read. */
  inState?: number;
}

export interface TerraformDestroyResult extends TerraformRunResult {
  workspaceDeleted: boolean;
  /** False when there was no such workspace at all (nothing to destroy). */
  workspaceExisted?: boolean;
  /** Resource instances the workspace's state held before the destroy. */
  found: number;
  /** Resource instances still in the state afterwards (0 on success). */
  remaining: number;
}

export interface Terraform {
  /**
   * Checks what a run needs before anything is written: the CLI runs, the directory and var files exist, the
   * secret variables' environment is set and, for an apply, every variable the module requires gets a value.
   * Returns the CLI version; throws a ConfigError saying what to fix.
   */
  check(target: TerraformTarget, purpose?: 'apply' | 'destroy'): Promise<string>;
  apply(target: TerraformTarget, onProgress?: (event: ProgressEvent) => void): Promise<TerraformRunResult>;
  /** Current outputs with their values, sensitive ones included: for the load command's environment only. */
  outputs(target: TerraformTarget): Promise<TerraformOutput[]>;
  /** Destroys everything in the workspace, then deletes the workspace. */
  destroy(
    target: TerraformTarget,
    onProgress?: (event: ProgressEvent) => void,
  ): Promise<TerraformDestroyResult>;
}
