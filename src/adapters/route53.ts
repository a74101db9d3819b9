// Route 53 behind the traffic port: a weighted record pair, shifted by one DELETE+CREATE ChangeBatch (compare-and-swap).
export { Route53TrafficAdapter } from './route53-adapter.ts';
export type { Route53Options } from './route53-options.ts';
export { ROUTE53_MAX_WEIGHT, unescapeDnsName } from './route53-records.ts';
