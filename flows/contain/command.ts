// /contain: ask to shift the service's weighted traffic back to legacy; a second person approves on the card.
import { requestContain, trafficOf } from './contain.ts';
import {
  LAYER_NAME,
  LAYER_ORDER,
  describeWeights,
  weightsOf,
  type TrafficLayer,
} from '../../src/adapters/traffic.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import { AccessError, UsageError } from '../../src/errors.ts';
import { allowOnly, quoteInput } from '../../commands/args.ts';
import type { ContainCaps } from './caps.ts';
import { command } from '../../commands/command.ts';
import { incidentService } from '../../commands/context.ts';

const USAGE = [
  '/contain [service] [legacy=<1-100, default 100>] [layer=route53|arc|alb|gateway|istio|all] [break-glass="<reason>"]',
];
const usage = USAGE.join('\n');

/** legacy=<percent>: a whole number 1-100, "%" allowed. 0 would send everything to the cloud stack. */
export function parseLegacyPercent(text: string | undefined): number {
  if (text === undefined) return 100;
  const value = text.trim();
  if (value === '')
    throw new UsageError(
      'legacy= needs a value: the share of traffic for legacy, 1-100 (default 100).',
      usage,
    );
  const match = /^(\d{1,3})%?$/.exec(value);
  if (!match) {
    const hint = /^\d+[.,]\d+%?$/.test(value) ? ' Use a whole number.' : '';
    throw new UsageError(
      `legacy=${quoteInput(value)} is not a percentage.${hint} Write legacy=100 (all traffic to legacy, the default) or a whole number from 1 to 100, like legacy=90.`,
      usage,
    );
  }
  const percent = Number(match[1]);
  if (percent === 0) {
    throw new UsageError(
      'legacy=0 would send all traffic to the cloud stack; /contain only moves traffic toward legacy. Use 1-100 (default 100); /canary moves traffic to the cloud.',
      usage,
    );
  }
  if (percent > 100) throw new UsageError(`legacy=${percent} is over 100%; use 1-100 (default 100).`, usage);
  return percent;
}

/** layer=<name>[,<name>…]: the layers to shift; `both` or `all` (the default) is every configured one. */
export function parseLayers(text: string | undefined, usageText = usage): TrafficLayer[] | undefined {
  if (text === undefined || text === 'both' || text === 'all') return undefined;
  const names = text.split(',').map((n) => n.trim());
  const layers: TrafficLayer[] = [];
  for (const name of names) {
    const layer = LAYER_ORDER.find((l) => l === name);
    if (!layer) {
      throw new UsageError(
        `layer=${quoteInput(text)} is not a layer; write layer=route53 (weighted DNS), arc (ARC routing controls), alb (load balancer), gateway (Gateway API HTTPRoute), istio (Istio VirtualService), several with commas (layer=arc,istio), or leave it out for every configured layer.`,
        usageText,
      );
    }
    if (!layers.includes(layer)) layers.push(layer);
  }
  return layers;
}

function parseBreakGlass(text: string | undefined, allowed: boolean): string | undefined {
  if (text === undefined) return undefined;
  const reason = text.trim();
  if (reason.length < 5) {
    throw new UsageError(
      'break-glass= needs the reason in quotes, e.g. break-glass="leads unreachable, payments down".',
      usage,
    );
  }
  if (reason.length > 300) throw new UsageError('Keep the break-glass reason under 300 characters.', usage);
  if (!allowed) {
    throw new AccessError(
      'approval.break-glass-disabled',
      'Break-glass is disabled here (access.breakGlass is false), so this change needs a second approver. Run /contain without break-glass.',
    );
  }
  return reason;
}

export const containCommand = command<ContainCaps>('/contain', USAGE, {
  summary: "Shift the service's weighted traffic back to legacy (two-person approval)",
  usageHint:
    '[service] [legacy=<percent, default 100>] [layer=route53|arc|alb|gateway|istio|all] [break-glass="<reason>"]',
  examples: [
    '/contain',
    '/contain payments legacy=90',
    '/contain layer=alb',
    '/contain break-glass="leads unreachable"',
  ],
  async run(ctx, args) {
    allowOnly(args, ['legacy', 'layer', 'break-glass'], usage);
    if (args.words.length > 1) {
      throw new UsageError(
        `/contain takes one service at most, then key=value options; got ${args.words.map(quoteInput).join(' ')}.`,
        usage,
      );
    }
    const legacyPercent = parseLegacyPercent(args.options.get('legacy'));
    const layers = parseLayers(args.options.get('layer'));
    const breakGlass = parseBreakGlass(args.options.get('break-glass'), ctx.deps.access.breakGlassAllowed);
    const { incident, service } = incidentService(ctx, args.words[0], usage);
    const traffic = trafficOf(ctx.deps, service, usage);
    for (const layer of layers ?? []) {
      if (!traffic[layer]) {
        const configured = LAYER_ORDER.filter((l) => traffic[l]).join(', ');
        throw new UsageError(
          `${service} has no traffic.${layer} configured (configured: ${configured}); leave layer= out or add it to cloud-safety.yml.`,
          usage,
        );
      }
    }

    const { action, states } = await requestContain(ctx.deps, {
      incident,
      service,
      legacyPercent,
      ...(layers ? { layers } : {}),
      requester: ctx.actor,
      ...(breakGlass !== undefined ? { breakGlass } : {}),
    });
    if (!action) {
      const now = states
        .map((s) => `${LAYER_NAME[s.layer]}: ${describeWeights(weightsOf(s), s.others)}`)
        .join('; ');
      await ctx.inv.respond(
        notice(`Nothing to shift: ${service} already sends ${legacyPercent}% to legacy (${now}).`),
      );
      return;
    }
    if (breakGlass !== undefined) {
      await ctx.inv.respond(
        notice(
          `BREAK-GLASS: executed without a second approver (${action.state}). The card and the timeline say so, with your reason.`,
        ),
      );
      return;
    }
    await ctx.inv.respond(
      notice(
        `Approval card posted for *${action.summary}* (${action.id}). Ask an approver (${ctx.deps.access.describeApprovers()}) to press Approve; it expires at ${action.expiresAt.slice(11, 16)} UTC.`,
      ),
    );
  },
});
