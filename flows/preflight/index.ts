// Preflight's face to the other steps: the report a canary checks before it starts.
export { runPreflight } from './preflight.ts';
export type { PreflightReport } from './preflight.ts';
