// ALB forward actions: target group names, weights read from and written into actions, and the state they give.
import type { AlbTraffic } from '../config.ts';
import { ExternalServiceError } from '../errors.ts';
import { fingerprintOf, type AlbSnapshot, type TrafficState, type Weights } from './traffic.ts';

export const ALB_MAX_WEIGHT = 999;

/** "targetgroup/payments-legacy/73e2d6bc24d8a067" -> "payments-legacy" */
export function targetGroupName(arn: string): string {
  return /:targetgroup\/([^/]+)\//.exec(arn)?.[1] ?? arn;
}

/** The region an ELB ARN lives in (arn:aws:elasticloadbalancing:<region>:…). */
export function regionOfArn(arn: string): string | undefined {
  return arn.split(':')[3] || undefined;
}

interface TargetGroupWeight {
  TargetGroupArn?: string;
  Weight?: number;
}

interface ForwardAction {
  Type?: string;
  TargetGroupArn?: string;
  ForwardConfig?: {
    TargetGroups?: TargetGroupWeight[];
    TargetGroupStickinessConfig?: { Enabled?: boolean; DurationSeconds?: number };
  };
}

function forwardIndex(actions: Record<string, unknown>[]): number {
  return actions.findIndex((a) => a.Type === 'forward');
}

/** The weighted target groups of a forward action; a plain forward to one group counts as weight 1 for it. */
function targetGroupsOf(action: ForwardAction): TargetGroupWeight[] {
  const groups = action.ForwardConfig?.TargetGroups;
  if (groups && groups.length > 0) return groups;
  return action.TargetGroupArn ? [{ TargetGroupArn: action.TargetGroupArn, Weight: 1 }] : [];
}

/** Actions as JSON we may store and show: a client secret, should ELB ever return one, never leaves here. */
export function withoutSecrets(actions: unknown): Record<string, unknown>[] {
  const copy = JSON.parse(JSON.stringify(actions ?? [])) as Record<string, unknown>[];
  for (const action of copy) {
    const oidc = action.AuthenticateOidcConfig as Record<string, unknown> | undefined;
    if (oidc) delete oidc.ClientSecret;
  }
  return copy;
}

/** The traffic state of a snapshot: the legacy/cloud weights of its forward action and how stickiness delays them. */
export function stateOf(snapshot: AlbSnapshot, config: AlbTraffic, resource: string): TrafficState {
  const { legacyTargetGroupArn, cloudTargetGroupArn } = config;
  const index = forwardIndex(snapshot.actions);
  const forward = index >= 0 ? (snapshot.actions[index] as ForwardAction) : undefined;
  if (!forward) {
    throw new ExternalServiceError(
      'ELB',
      `${resource} has no forward action (found: ${snapshot.actions.map((a) => String(a.Type)).join(', ') || 'none'}); /contain can only shift a weighted forward.`,
    );
  }
  const groups = targetGroupsOf(forward);
  const weightOf = (arn: string) => groups.find((g) => g.TargetGroupArn === arn)?.Weight ?? 0;
  const sticky = forward.ForwardConfig?.TargetGroupStickinessConfig;
  const stickySeconds = sticky?.Enabled ? (sticky.DurationSeconds ?? 0) : 0;
  return {
    layer: 'alb',
    resource,
    legacy: {
      id: legacyTargetGroupArn,
      weight: weightOf(legacyTargetGroupArn),
      target: targetGroupName(legacyTargetGroupArn),
    },
    cloud: {
      id: cloudTargetGroupArn,
      weight: weightOf(cloudTargetGroupArn),
      target: targetGroupName(cloudTargetGroupArn),
    },
    others: groups
      .filter((g) => g.TargetGroupArn !== legacyTargetGroupArn && g.TargetGroupArn !== cloudTargetGroupArn)
      .map((g) => ({
        id: g.TargetGroupArn ?? '?',
        weight: g.Weight ?? 0,
        target: targetGroupName(g.TargetGroupArn ?? '?'),
      })),
    maxWeight: ALB_MAX_WEIGHT,
    convergence:
      stickySeconds > 0
        ? {
            seconds: stickySeconds,
            basis: `target group stickiness keeps a client on its group for ${stickySeconds} s`,
          }
        : { seconds: 0, basis: 'the load balancer applies weights to each new request' },
    healthChecks: false,
    fingerprint: fingerprintOf(snapshot),
    snapshot,
  };
}

/** The actions with the forward action's weights replaced; every other action and field stays as read. */
export function withWeights(
  actions: Record<string, unknown>[],
  config: AlbTraffic,
  to: Weights,
): Record<string, unknown>[] {
  const { legacyTargetGroupArn, cloudTargetGroupArn } = config;
  return actions.map((action) => {
    if (action.Type === 'authenticate-oidc') {
      // Describe* never returns the client secret; this tells the ALB to keep the one it has.
      const config = action.AuthenticateOidcConfig as Record<string, unknown> | undefined;
      return config
        ? { ...action, AuthenticateOidcConfig: { ...config, UseExistingClientSecret: true } }
        : action;
    }
    if (action.Type !== 'forward') return action;
    const forward = action as ForwardAction & Record<string, unknown>;
    const others = targetGroupsOf(forward).filter(
      (g) => g.TargetGroupArn !== legacyTargetGroupArn && g.TargetGroupArn !== cloudTargetGroupArn,
    );
    // Only ForwardConfig is written: TargetGroupArn beside it would have to name the one group of a single-group forward.
    const { TargetGroupArn: _single, ...rest } = forward;
    return {
      ...rest,
      ForwardConfig: {
        ...(forward.ForwardConfig ?? {}),
        TargetGroups: [
          { TargetGroupArn: legacyTargetGroupArn, Weight: to.legacy },
          { TargetGroupArn: cloudTargetGroupArn, Weight: to.cloud },
          ...others,
        ],
      },
    };
  });
}
