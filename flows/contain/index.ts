// Step C's face to the other steps: the traffic read, the shift primitive and the contain request (alerts).
export {
  readShiftOp,
  readTraffic,
  recheckShift,
  requestContain,
  shiftTraffic,
  trafficOf,
} from './contain.ts';
export type { ShiftOutcome, ShiftTrafficRequest } from './contain.ts';
