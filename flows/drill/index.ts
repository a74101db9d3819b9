// The drill's face to the other steps: its score, which the post-mortem shows.
export { drillScore, scoreLines } from './score.ts';
export type { DrillScore } from './score.ts';
