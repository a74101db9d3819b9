// Route 53 reads: the weighted records of one name and type, following ListResourceRecordSets' pages.
import {
  ListResourceRecordSetsCommand,
  type ListResourceRecordSetsCommandOutput,
  type RRType,
} from '@aws-sdk/client-route-53';
import type { Route53Traffic } from '../config.ts';
import { ExternalServiceError } from '../errors.ts';
import { mapReadError } from './route53-errors.ts';
import { MAX_PAGES, normalizeName, toWeighted } from './route53-records.ts';
import type { WeightedRecord } from './traffic.ts';

/** Every weighted record of the configured name and type; `send` runs one page's request (budget and retries). */
export async function listWeighted(
  config: Route53Traffic,
  resource: string,
  send: (command: () => ListResourceRecordSetsCommand) => Promise<ListResourceRecordSetsCommandOutput>,
): Promise<WeightedRecord[]> {
  const { hostedZoneId, recordName, recordType } = config;
  const found: WeightedRecord[] = [];
  let start: { name: string; type: string; identifier?: string } = { name: recordName, type: recordType };
  for (let page = 0; page < MAX_PAGES; page++) {
    let out;
    try {
      const from = start;
      out = await send(
        () =>
          new ListResourceRecordSetsCommand({
            HostedZoneId: hostedZoneId,
            StartRecordName: from.name,
            StartRecordType: from.type as RRType,
            ...(from.identifier ? { StartRecordIdentifier: from.identifier } : {}),
          }),
      );
    } catch (err) {
      throw mapReadError(hostedZoneId, 'ListResourceRecordSets', err);
    }
    let past = false;
    for (const set of out.ResourceRecordSets ?? []) {
      // Results are sorted by name then type, starting at ours: the first other name/type ends our group.
      if (normalizeName(set.Name ?? '') !== recordName || set.Type !== recordType) {
        past = true;
        break;
      }
      if (set.SetIdentifier !== undefined && set.Weight !== undefined) found.push(toWeighted(set));
    }
    if (past || !out.IsTruncated || !out.NextRecordName) return found;
    start = {
      name: out.NextRecordName,
      type: out.NextRecordType ?? recordType,
      ...(out.NextRecordIdentifier ? { identifier: out.NextRecordIdentifier } : {}),
    };
  }
  throw new ExternalServiceError(
    'Route 53',
    `ListResourceRecordSets returned more than ${MAX_PAGES} pages for ${resource}; something is wrong with the zone listing.`,
  );
}
