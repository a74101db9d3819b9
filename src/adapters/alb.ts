// The ALB behind the traffic port: weights of a forward action between the legacy and cloud target groups.
export { AlbTrafficAdapter, type AlbOptions } from './alb-adapter.ts';
export { ALB_MAX_WEIGHT, regionOfArn, targetGroupName } from './alb-actions.ts';
