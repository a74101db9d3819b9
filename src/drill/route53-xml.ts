// Route 53's wire format (REST-XML, 2013-04-01): the response bodies it sends and the ChangeBatch it receives.
import { randomUUID } from 'node:crypto';
import { child, childrenNamed, escapeXml, parseXml, textAt, type XmlNode } from './xml.ts';

export const ROUTE53_NS = 'https://route53.amazonaws.com/doc/2013-04-01/';
export const XML_HEADERS = { 'content-type': 'text/xml' };

/** A record set as tests and the local endpoint hold it (Route 53's field names, camel-cased). */
export interface RecordSet {
  name: string;
  type: string;
  setIdentifier?: string;
  weight?: number;
  ttl?: number;
  values?: string[];
  alias?: { hostedZoneId: string; dnsName: string; evaluateTargetHealth: boolean };
  healthCheckId?: string;
}

const x = escapeXml;

export function recordSetXml(r: RecordSet): string {
  return [
    '<ResourceRecordSet>',
    `<Name>${x(r.name)}</Name>`,
    `<Type>${x(r.type)}</Type>`,
    r.setIdentifier !== undefined ? `<SetIdentifier>${x(r.setIdentifier)}</SetIdentifier>` : '',
    r.weight !== undefined ? `<Weight>${r.weight}</Weight>` : '',
    r.ttl !== undefined ? `<TTL>${r.ttl}</TTL>` : '',
    r.values
      ? `<ResourceRecords>${r.values.map((v) => `<ResourceRecord><Value>${x(v)}</Value></ResourceRecord>`).join('')}</ResourceRecords>`
      : '',
    r.alias
      ? `<AliasTarget><HostedZoneId>${x(r.alias.hostedZoneId)}</HostedZoneId><DNSName>${x(r.alias.dnsName)}</DNSName><EvaluateTargetHealth>${r.alias.evaluateTargetHealth}</EvaluateTargetHealth></AliasTarget>`
      : '',
    r.healthCheckId ? `<HealthCheckId>${x(r.healthCheckId)}</HealthCheckId>` : '',
    '</ResourceRecordSet>',
  ].join('');
}

/** ListResourceRecordSetsResponse; `next` makes it a truncated page pointing at the next record. */
export function listRecordSetsXml(
  records: RecordSet[],
  opts: { next?: { name: string; type: string; identifier?: string }; maxItems?: number } = {},
): string {
  const next = opts.next
    ? `<NextRecordName>${x(opts.next.name)}</NextRecordName><NextRecordType>${x(opts.next.type)}</NextRecordType>${
        opts.next.identifier ? `<NextRecordIdentifier>${x(opts.next.identifier)}</NextRecordIdentifier>` : ''
      }`
    : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ListResourceRecordSetsResponse xmlns="${ROUTE53_NS}"><ResourceRecordSets>${records
    .map(recordSetXml)
    .join(
      '',
    )}</ResourceRecordSets><IsTruncated>${opts.next ? 'true' : 'false'}</IsTruncated>${next}<MaxItems>${
    opts.maxItems ?? 300
  }</MaxItems></ListResourceRecordSetsResponse>`;
}

export interface ChangeInfo {
  id: string;
  status: 'PENDING' | 'INSYNC';
  submittedAt: string;
  comment?: string;
}

function changeInfoXml(info: ChangeInfo): string {
  return `<ChangeInfo><Id>/change/${x(info.id)}</Id><Status>${info.status}</Status><SubmittedAt>${x(info.submittedAt)}</SubmittedAt>${
    info.comment ? `<Comment>${x(info.comment)}</Comment>` : ''
  }</ChangeInfo>`;
}

export function changeResponseXml(info: ChangeInfo): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ChangeResourceRecordSetsResponse xmlns="${ROUTE53_NS}">${changeInfoXml(info)}</ChangeResourceRecordSetsResponse>`;
}

export function getChangeXml(info: ChangeInfo): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<GetChangeResponse xmlns="${ROUTE53_NS}">${changeInfoXml(info)}</GetChangeResponse>`;
}

export interface Observation {
  region: string;
  ip: string;
  status: string;
  checkedTime: string;
}

export function healthCheckStatusXml(observations: Observation[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<GetHealthCheckStatusResponse xmlns="${ROUTE53_NS}"><HealthCheckObservations>${observations
    .map(
      (o) =>
        `<HealthCheckObservation><Region>${x(o.region)}</Region><IPAddress>${x(o.ip)}</IPAddress><StatusReport><Status>${x(o.status)}</Status><CheckedTime>${x(o.checkedTime)}</CheckedTime></StatusReport></HealthCheckObservation>`,
    )
    .join('')}</HealthCheckObservations></GetHealthCheckStatusResponse>`;
}

/** Eight checkers as Route 53 runs them; `healthy` of them report Success. */
export function observations(
  healthy: number,
  failure = 'Failure: HTTP Status Code 503, Service Unavailable.',
): Observation[] {
  const regions = [
    'us-east-1',
    'us-west-1',
    'us-west-2',
    'eu-west-1',
    'ap-southeast-1',
    'ap-southeast-2',
    'ap-northeast-1',
    'sa-east-1',
  ];
  return regions.map((region, i) => ({
    region,
    ip: `15.177.${i}.${10 + i}`,
    status: i < healthy ? 'Success: HTTP Status Code 200, OK' : failure,
    checkedTime: '2026-11-26T09:59:58.000Z',
  }));
}

/**
 * Route 53's error body: <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>, as it
 * answers a throttle (HTTP 400, Sender, Throttling, "Rate exceeded") or a 5xx (Receiver); a fresh request id each time.
 */
export function errorXml(
  code: string,
  message: string,
  type: 'Sender' | 'Receiver' = 'Sender',
  requestId: string = randomUUID(),
): string {
  return `<?xml version="1.0"?>\n<ErrorResponse xmlns="${ROUTE53_NS}"><Error><Type>${type}</Type><Code>${x(code)}</Code><Message>${x(message)}</Message></Error><RequestId>${x(requestId)}</RequestId></ErrorResponse>`;
}

/** Route 53's own words for its two "slow down" refusals (both HTTP 400, Type Sender). */
export const THROTTLING = { code: 'Throttling', message: 'Rate exceeded', status: 400 } as const;
export const PRIOR_REQUEST_NOT_COMPLETE = {
  code: 'PriorRequestNotComplete',
  message: 'The request was rejected because Route 53 was still processing a prior request.',
  status: 400,
} as const;

/** The message Route 53 gives when a DELETE does not match what it holds. */
export function deleteMismatchMessage(name: string, type: string, setIdentifier: string): string {
  return `[Tried to delete resource record set [name='${name}', type='${type}', set-identifier='${setIdentifier}'] but the values provided do not match the current values]`;
}

function recordFromXml(node: XmlNode | undefined): RecordSet {
  const values = childrenNamed(child(node, 'ResourceRecords'), 'ResourceRecord').map(
    (r) => textAt(r, 'Value') ?? '',
  );
  const alias = child(node, 'AliasTarget');
  const weight = textAt(node, 'Weight');
  const ttl = textAt(node, 'TTL');
  const setIdentifier = textAt(node, 'SetIdentifier');
  const healthCheckId = textAt(node, 'HealthCheckId');
  return {
    name: textAt(node, 'Name') ?? '',
    type: textAt(node, 'Type') ?? '',
    ...(setIdentifier !== undefined ? { setIdentifier } : {}),
    ...(weight !== undefined ? { weight: Number(weight) } : {}),
    ...(ttl !== undefined ? { ttl: Number(ttl) } : {}),
    ...(child(node, 'ResourceRecords') ? { values } : {}),
    ...(alias
      ? {
          alias: {
            hostedZoneId: textAt(alias, 'HostedZoneId') ?? '',
            dnsName: textAt(alias, 'DNSName') ?? '',
            evaluateTargetHealth: textAt(alias, 'EvaluateTargetHealth') === 'true',
          },
        }
      : {}),
    ...(healthCheckId !== undefined ? { healthCheckId } : {}),
  };
}

export interface ChangeBatch {
  /** The root element's namespace. */
  xmlns: string | undefined;
  comment: string | undefined;
  changes: { action: string; record: RecordSet }[];
}

/** Reads a ChangeResourceRecordSetsRequest body as the SDK sent it. */
export function parseChangeBatch(body: string): ChangeBatch {
  const root = parseXml(body);
  if (root.name !== 'ChangeResourceRecordSetsRequest') throw new Error(`unexpected root <${root.name}>`);
  const batch = child(root, 'ChangeBatch');
  return {
    xmlns: root.attrs.xmlns,
    comment: textAt(batch, 'Comment'),
    changes: childrenNamed(child(batch, 'Changes'), 'Change').map((c) => ({
      action: textAt(c, 'Action') ?? '',
      record: recordFromXml(child(c, 'ResourceRecordSet')),
    })),
  };
}
