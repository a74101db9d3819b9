// Elastic Load Balancing v2's wire format (AWS Query, version 2015-12-01): form-encoded requests in, XML out.
import { randomUUID } from 'node:crypto';
import { escapeXml } from './xml.ts';

export const ELB_NS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';

/** A Query value as the server keeps it: strings at the leaves, `member` lists as arrays. */
export type QueryValue = string | QueryValue[] | { [key: string]: QueryValue };

/**
 * Turns `DefaultActions.member.1.ForwardConfig.TargetGroups.member.2.Weight=0` pairs into nested objects and arrays,
 * the way the Query protocol flattens them (lists as `<name>.member.<n>`, 1-based).
 */
export function unflatten(form: URLSearchParams): Record<string, QueryValue> {
  const root: Record<string, QueryValue> = {};
  for (const [key, value] of form) {
    const parts = key.split('.');
    let node: Record<string, QueryValue> | QueryValue[] = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? '';
      const last = i === parts.length - 1;
      if (Array.isArray(node)) {
        const index = Number(part) - 1;
        if (last) node[index] = value;
        else node = (node[index] ??= {}) as Record<string, QueryValue>;
        continue;
      }
      if (last) {
        node[part] = value;
      } else if (parts[i + 1] === 'member') {
        node = (node[part] ??= []) as QueryValue[];
        i += 1;
        if (i === parts.length - 1) throw new Error(`${key}: a list member needs an index`);
      } else {
        node = (node[part] ??= {}) as Record<string, QueryValue>;
      }
    }
  }
  return root;
}

/** Serialises a value the way the Query protocol's XML does: lists as <member> elements. */
function valueXml(value: unknown): string {
  if (Array.isArray(value))
    return value
      .filter((v) => v !== undefined)
      .map((v) => `<member>${valueXml(v)}</member>`)
      .join('');
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${valueXml(v)}</${k}>`)
      .join('');
  }
  return escapeXml(String(value));
}

/** `<DescribeListenersResponse><DescribeListenersResult>…</…><ResponseMetadata><RequestId>…` */
export function resultXml(operation: string, result: Record<string, unknown>): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${ELB_NS}">` +
    `<${operation}Result>${valueXml(result)}</${operation}Result>` +
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${operation}Response>`
  );
}

/** ELBv2's error body: `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>…` */
export function elbErrorXml(code: string, message: string, type: 'Sender' | 'Receiver' = 'Sender'): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${ELB_NS}"><Error><Type>${type}</Type>` +
    `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error>` +
    `<RequestId>${randomUUID()}</RequestId></ErrorResponse>`
  );
}

/** The members of a list parameter (`ListenerArns.member.N`), as strings. */
export function listOf(params: Record<string, QueryValue>, name: string): string[] {
  const value = params[name];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
