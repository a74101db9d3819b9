// The drill zone: the hosted zone, record pair and health check the Route 53 drill starts with.
import type { RecordSet } from './route53-xml.ts';

/** The drill zone: payments' record pair (legacy 20 / cloud 80, TTL 10 s) and a legacy health check. */
export const DRILL_ZONE = 'Z0DRILLPAYMENTS';
export const DRILL_HEALTH_CHECK = 'd6c1b2a3-0000-4000-8000-00000000d111';
export function drillRecords(ttl = 10): RecordSet[] {
  return [
    {
      name: 'api.payments.example.com.',
      type: 'A',
      setIdentifier: 'legacy',
      weight: 20,
      ttl,
      values: ['192.0.2.10'],
      healthCheckId: DRILL_HEALTH_CHECK,
    },
    {
      name: 'api.payments.example.com.',
      type: 'A',
      setIdentifier: 'cloud',
      weight: 80,
      ttl,
      values: ['198.51.100.20', '198.51.100.21'],
    },
    { name: 'api.payments.example.com.', type: 'AAAA', ttl: 300, values: ['2001:db8::10'] },
    { name: 'example.com.', type: 'NS', ttl: 172800, values: ['ns-1.awsdns-01.org.', 'ns-2.awsdns-02.net.'] },
  ];
}
