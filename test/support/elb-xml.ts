// Elastic Load Balancing v2's wire format (AWS Query, 2015-12-01): XML responses, form-encoded requests.
import { escapeXml } from '../../src/drill/xml.ts';

export const ELB_NS = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';

/** Serialises a value the way the Query protocol's XML does: lists as <member> elements. */
function valueXml(value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => `<member>${valueXml(v)}</member>`).join('');
  if (value !== null && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<${k}>${valueXml(v)}</${k}>`)
      .join('');
  }
  return escapeXml(String(value));
}

function envelope(operation: string, result: Record<string, unknown>): string {
  return `<${operation}Response xmlns="${ELB_NS}"><${operation}Result>${valueXml(result)}</${operation}Result><ResponseMetadata><RequestId>3c8a1f2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b</RequestId></ResponseMetadata></${operation}Response>`;
}

export interface RuleFixture {
  RuleArn: string;
  Priority: string;
  IsDefault: boolean;
  Conditions: Record<string, unknown>[];
  Actions: Record<string, unknown>[];
}

export function describeRulesXml(rules: RuleFixture[]): string {
  return envelope('DescribeRules', { Rules: rules });
}

export function modifyRuleXml(rule: RuleFixture): string {
  return envelope('ModifyRule', { Rules: [rule] });
}

export function describeListenersXml(listeners: Record<string, unknown>[]): string {
  return envelope('DescribeListeners', { Listeners: listeners });
}

export function modifyListenerXml(listener: Record<string, unknown>): string {
  return envelope('ModifyListener', { Listeners: [listener] });
}

export function describeTargetHealthXml(
  targets: { id: string; port: number; state: string; reason?: string; description?: string }[],
): string {
  return envelope('DescribeTargetHealth', {
    TargetHealthDescriptions: targets.map((t) => ({
      HealthCheckPort: String(t.port),
      Target: { Id: t.id, Port: t.port },
      TargetHealth: {
        State: t.state,
        ...(t.reason ? { Reason: t.reason } : {}),
        ...(t.description ? { Description: t.description } : {}),
      },
    })),
  });
}

export function elbErrorXml(code: string, message: string): string {
  return `<ErrorResponse xmlns="${ELB_NS}"><Error><Type>Sender</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>9f8e7d6c-5b4a-3f2e-1d0c-ba9876543210</RequestId></ErrorResponse>`;
}

/** A form-encoded Query request body as a plain map. */
export function formOf(body: unknown): Record<string, string> {
  if (typeof body === 'string') return Object.fromEntries(new URLSearchParams(body));
  // nock hands form bodies over already parsed.
  return Object.fromEntries(
    Object.entries((body ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
  );
}
