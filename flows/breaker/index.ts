// Step D's face to the other steps: the breaker's state, conditions and readings the canary and preflight share.
export { breakerConfig, getBreaker } from './state.ts';
export { canaryCard, canaryView, preflightMessage } from './blocks.ts';
export type { CanaryChangeView } from './blocks.ts';
export { conditionsOf, describeSpec, formatValue, forStack, hasStack, warned } from './conditions.ts';
export type { ConditionSpec } from './conditions.ts';
export { latestValues, windowValues } from './source.ts';
export { percent, sameSettings, settingsOf } from './rules.ts';
export type { BreakerOptions } from './evaluator.ts';
