// ARC in words: /preflight's checks (controls on the panel, endpoints that answer, safety rules) and refusals.
import type { ArcTraffic } from '../config.ts';
import type { ControlConfigPort } from './arc-control-config.ts';
import { panelRuleChecks } from './arc-rules.ts';
import type { LayerCheck, TrafficState } from './traffic.ts';

export interface ArcControl {
  arn: string;
  name?: string;
  state: 'On' | 'Off';
}

export interface ArcCheckInput {
  config: ArcTraffic;
  state: TrafficState;
  /** ListRoutingControls of the panel (every page). */
  listControls: () => Promise<ArcControl[]>;
  /** One GetRoutingControlState on exactly this endpoint: undefined when it answered, else why not. */
  probeEndpoint: (endpoint: { endpoint: string; region: string }) => Promise<string | undefined>;
  /** The control-config API, to read the panel's safety rules (ListSafetyRules). */
  controlConfig?: ControlConfigPort | undefined;
}

const label = (c: ArcControl) => `${c.name ?? c.arn.split('/').pop()} ${c.state}`;

export async function arcChecks(input: ArcCheckInput): Promise<LayerCheck[]> {
  const { config } = input;
  const checks: LayerCheck[] = [];

  const title = 'ARC routing controls on the control panel';
  let controls: ArcControl[] | undefined;
  try {
    controls = await input.listControls();
    const legacy = controls.find((c) => c.arn === config.legacyRoutingControlArn);
    const cloud = controls.find((c) => c.arn === config.cloudRoutingControlArn);
    const missing = [
      legacy ? undefined : `legacy ${config.legacyRoutingControlArn}`,
      cloud ? undefined : `cloud ${config.cloudRoutingControlArn}`,
    ].filter((m): m is string => m !== undefined);
    if (!legacy || !cloud) {
      checks.push({
        id: 'arc-controls',
        title,
        status: 'fail',
        detail: `ListRoutingControls of the panel does not show ${missing.join(' and ')}`,
        fix: 'Correct traffic.arc.legacyRoutingControlArn / cloudRoutingControlArn (aws route53-recovery-control-config list-routing-controls).',
      });
    } else {
      const others = controls.filter((c) => c !== legacy && c !== cloud);
      checks.push({
        id: 'arc-controls',
        title,
        status: legacy.state === 'Off' && cloud.state === 'Off' ? 'fail' : 'pass',
        detail: `legacy ${label(legacy)}, cloud ${label(cloud)}${others.length > 0 ? `; also on the panel: ${others.map(label).join(', ')}` : ''}`,
        ...(legacy.state === 'Off' && cloud.state === 'Off'
          ? {
              fix: 'Both controls are Off: the failover records answer as if everything were down. Turn legacy On.',
            }
          : {}),
      });
    }
  } catch (err) {
    checks.push({ id: 'arc-controls', title, status: 'fail', detail: (err as Error).message });
  }

  const down: string[] = [];
  for (const endpoint of config.clusterEndpoints) {
    const why = await input.probeEndpoint(endpoint);
    if (why) down.push(`${endpoint.region}: ${why}`);
  }
  const n = config.clusterEndpoints.length;
  checks.push({
    id: 'arc-endpoints',
    title: 'ARC cluster endpoints answer',
    status: down.length === n ? 'fail' : down.length > 0 || n < 5 ? 'warn' : 'pass',
    detail: `${n - down.length} of ${n} configured endpoints answered${down.length > 0 ? ` (${down.join('; ')})` : ''}`,
    ...(down.length > 0 || n < 5
      ? {
          fix: 'List all five Regional endpoints of the cluster in traffic.arc.clusterEndpoints (describe-cluster shows them): the bot tries them in turn, and ARC keeps at least three up.',
        }
      : {}),
  });

  const rules = config.safetyRules;
  checks.push({
    id: 'arc-safety-rules',
    title: 'ARC safety rules break-glass may override',
    status: rules.length > 0 ? 'pass' : 'warn',
    detail:
      rules.length > 0
        ? `${rules.map((r) => `${r.name} (${r.arn.split('/').pop()})`).join(', ')}: overridden only by break-glass, after the rule refused, and named on the timeline; any other rule's refusal stands`
        : 'none listed: every safety rule refusal stands, even under break-glass',
    ...(rules.length > 0
      ? {}
      : {
          fix: 'If the team agrees an emergency may skip a rule (say, "at least one region On"), list it under traffic.arc.safetyRules with a name.',
        }),
  });
  if (input.controlConfig) {
    const rules = await input.controlConfig
      .listSafetyRules(config.controlPanelArn)
      .catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
    checks.push(...panelRuleChecks(config, rules, controls));
  }
  return checks;
}

/** "arn:…/routingcontrol/abc" -> "abc" */
export function tail(arn: string): string {
  return arn.split('/').pop() ?? arn;
}

/** A safety rule's refusal in plain words: what was refused, ARC's own message, that nothing changed, what to do. */
export function safetyRefusal(
  config: ArcTraffic,
  arcMessage: string,
  opts: { breakGlass: boolean; overrode?: string[] },
): string {
  const ask = `legacy ${tail(config.legacyRoutingControlArn)} On and cloud ${tail(config.cloudRoutingControlArn)} Off`;
  // AWS documents that the refusal's message carries the ARN of the rule that blocked the update.
  const arn = /arn:[\w-]+:route53-recovery-control::\d+:controlpanel\/\w+\/safetyrule\/\w+/.exec(
    arcMessage,
  )?.[0];
  if (opts.overrode) {
    return `a safety rule still refuses ${ask} even with break-glass overriding ${opts.overrode.join(', ')} (ARC said: ${arcMessage}). Nothing was changed. Another rule of the control panel${arn ? `, ${tail(arn)},` : ''} blocks it: look at the panel's safety rules with /preflight or in the ARC console.`;
  }
  const rules = config.safetyRules.map((r) => r.name).join(', ');
  const named = arn ? config.safetyRules.find((r) => r.arn === arn) : undefined;
  const which = arn
    ? ` The rule that refused: ${named ? `${named.name} (${tail(arn)}), which break-glass may override` : `${tail(arn)}, not in traffic.arc.safetyRules, so break-glass cannot override it`}.`
    : ' ARC named no safety rule, so this may be a conflict with another change made at the same moment: run /preflight to read the controls, then /contain again.';
  const next = opts.breakGlass
    ? 'Break-glass cannot override it: traffic.arc.safetyRules names no rule that may be overridden.'
    : rules
      ? `If this is an emergency, /contain break-glass="<reason>" overrides ${rules} (listed in traffic.arc.safetyRules) and says so on the timeline.`
      : 'Fix the routing control states the rule asserts (for example turn another control On first), or list the rule under traffic.arc.safetyRules so break-glass may override it.';
  return `a safety rule of control panel ${tail(config.controlPanelArn)} does not allow ${ask} (ARC said: ${arcMessage}). Nothing was changed.${which} ${next}`;
}
