// /preflight for ARC: the routing controls' states on the panel, which cluster endpoints answer, the safety rules.
import type { ArcTraffic } from '../config.ts';
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
}

const label = (c: ArcControl) => `${c.name ?? c.arn.split('/').pop()} ${c.state}`;

export async function arcChecks(input: ArcCheckInput): Promise<LayerCheck[]> {
  const { config } = input;
  const checks: LayerCheck[] = [];

  const title = 'ARC routing controls on the control panel';
  try {
    const controls = await input.listControls();
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
  return checks;
}
