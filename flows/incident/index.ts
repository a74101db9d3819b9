// The incident's face to the other steps: the incident service and what a step records on the timeline.
export type { Incidents, RecordInput } from './incident.ts';
