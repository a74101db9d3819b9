// The two-person rule's face to the steps that go through it: the handler a risky step registers for its kind.
export type { ActionHandler } from './approval.ts';
