// The local Route 53's record rules: listing order, name normalisation, and exact-match comparison for DELETEs.
import type { RecordSet } from './route53-xml.ts';

function reversedName(name: string): string {
  return name.replace(/\.$/, '').split('.').reverse().join('.');
}

/** Route 53's listing order: name with labels reversed, then type, then set identifier. */
export function compareRecords(a: RecordSet, b: RecordSet): number {
  return (
    reversedName(a.name).localeCompare(reversedName(b.name)) ||
    a.type.localeCompare(b.type) ||
    (a.setIdentifier ?? '').localeCompare(b.setIdentifier ?? '')
  );
}

export function fqdn(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n : `${n}.`;
}

export function sameRecord(a: RecordSet, b: RecordSet): boolean {
  const values = (r: RecordSet) => (r.values ? [...r.values].sort().join('\n') : undefined);
  return (
    a.weight === b.weight &&
    a.ttl === b.ttl &&
    values(a) === values(b) &&
    a.healthCheckId === b.healthCheckId &&
    aliasKey(a) === aliasKey(b)
  );
}

function aliasKey(r: RecordSet): string {
  return r.alias ? `${r.alias.hostedZoneId} ${fqdn(r.alias.dnsName)} ${r.alias.evaluateTargetHealth}` : '';
}

export function describe(r: RecordSet): string {
  return `[name='${r.name}', type='${r.type}'${r.setIdentifier !== undefined ? `, set-identifier='${r.setIdentifier}'` : ''}]`;
}
