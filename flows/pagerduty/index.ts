// The PagerDuty mirror's face to the other steps: the breaker's page and the id parser /incident link uses.
export { parsePagerDutyId } from './mirror.ts';
export type { BreakerPage } from './mirror.ts';
