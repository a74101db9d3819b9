// Route 53 sync marker: a no-op ChangeBatch whose change id stands in for a committed change whose id was lost.
import { ChangeResourceRecordSetsCommand, type Route53Client } from '@aws-sdk/client-route-53';
import type { Logger } from '../log.ts';
import { COMMENT_MAX, stripChangeId, toRecordSet } from './route53-records.ts';
import type { WeightedRecord } from './traffic.ts';

/** What the marker needs from the adapter: its retrying call, client, zone, log and clock. */
export interface MarkerDeps {
  call: <T>(operation: string, write: boolean, fn: () => Promise<T>) => Promise<T>;
  client: Route53Client;
  hostedZoneId: string;
  log: Logger;
  resource: string;
  now: () => Date;
}

/**
 * A ChangeBatch that DELETEs and CREATEs the pair exactly as read: it changes nothing (and is refused if anyone moved
 * the records), but gets a change id. Route 53 applies a zone's changes in order, so when this one is INSYNC the
 * change before it is too. Undefined when it could not be sent.
 */
export async function syncMarker(
  deps: MarkerDeps,
  pair: (WeightedRecord | undefined)[],
  comment: string,
): Promise<{ changeId: string; status: 'PENDING' | 'INSYNC'; submittedAt: Date } | undefined> {
  const records = pair.filter((r): r is WeightedRecord => r !== undefined);
  if (records.length !== 2) return undefined;
  try {
    const out = await deps.call('ChangeResourceRecordSets', true, () =>
      deps.client.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: deps.hostedZoneId,
          ChangeBatch: {
            Comment: `sync marker (no-op) for: ${comment}`.slice(0, COMMENT_MAX),
            Changes: [
              ...records.map((r) => ({ Action: 'DELETE' as const, ResourceRecordSet: toRecordSet(r) })),
              ...records.map((r) => ({ Action: 'CREATE' as const, ResourceRecordSet: toRecordSet(r) })),
            ],
          },
        }),
      ),
    );
    const changeId = stripChangeId(out.ChangeInfo?.Id);
    if (!changeId) return undefined;
    return {
      changeId,
      status: out.ChangeInfo?.Status === 'INSYNC' ? 'INSYNC' : 'PENDING',
      submittedAt: out.ChangeInfo?.SubmittedAt ?? deps.now(),
    };
  } catch (err) {
    deps.log.warn({ err, resource: deps.resource }, 'could not send the sync marker change');
    return undefined;
  }
}
