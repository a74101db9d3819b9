// The canary's face to the other steps: what the breaker reads and halts when it arms, disarms or trips.
export { getCanary, haltCanaryForTrip, pauseCanaryForDisarm } from './canary.ts';
