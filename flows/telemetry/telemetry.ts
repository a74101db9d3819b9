// Step L: snapshot the failing workload, keep evidence from the worst pods, quarantine (approved) and release them.
import { quarantineView } from './blocks.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import type { TelemetryCaps } from './caps.ts';
import { SYSTEM } from '../../src/timeline.ts';
import type { StoredBasis } from './quarantine.ts';
import { executeQuarantine, recheckQuarantine } from './quarantine.ts';
import { releaseQuarantine } from './release.ts';
import {
  RELEASE_KIND,
  executeReturn,
  recheckReturn,
  releaseView,
  requestReturn,
  type ReleaseChange,
} from './release-plan.ts';
import type { QuarantineChange } from './workload.ts';
import { EXPIRY_QUEUE, QUARANTINE_KIND } from './workload.ts';

/** Registers the quarantine approval handler and the durable expiry; called once by the composition root. */
export function registerTelemetry(deps: TelemetryCaps): void {
  deps.approvals.register<QuarantineChange>({
    kind: QUARANTINE_KIND,
    stepOnSuccess: 'in_progress',
    describe(action) {
      const basis = action.basis as StoredBasis;
      const byName = new Map(basis.pods.map((p) => [p.name, p]));
      return quarantineView({
        namespace: action.change.namespace,
        pods: action.change.pods.map((p) => {
          const seen = byName.get(p.name);
          return {
            name: p.name,
            ready: seen?.ready ?? false,
            ...(seen?.node ? { node: seen.node } : {}),
            ...(seen?.percent !== undefined ? { percent: seen.percent } : {}),
            removeLabels: p.removeLabels,
          };
        }),
        policy: action.change.policy,
        label: `${action.change.label.key}=${action.change.label.value}`,
        ...(action.change.forensicsNamespace ? { forensicsNamespace: action.change.forensicsNamespace } : {}),
        ttlMs: action.change.ttlMs,
        onExpiry: action.change.onExpiry,
        warnings: [...(basis.warnings ?? []), ...(basis.notes ?? [])],
        captureAfter: action.change.captureAfter,
      });
    },
    execute: (action, ctx) => executeQuarantine(deps, action, ctx),
    recheck: (action) => recheckQuarantine(deps, action),
  });
  deps.approvals.register<ReleaseChange>({
    kind: RELEASE_KIND,
    stepOnSuccess: 'in_progress',
    describe: (action) => releaseView(action.change),
    execute: (action) => executeReturn(deps, action),
    recheck: (action) => recheckReturn(deps, action),
  });
  deps.scheduler.handle(EXPIRY_QUEUE, async (member) => {
    const [incidentId = '', service = ''] = member.split('|');
    const incident = await deps.incidents.get(incidentId);
    const cfg = deps.config.services[service]?.kubernetes;
    if (!incident || !cfg) return;
    if (cfg.onExpiry === 'delete') {
      await releaseQuarantine(deps, { incident, service, actor: SYSTEM, mode: 'delete', reason: 'expiry' });
      return;
    }
    // Nobody is there to be told that returning deletes a pod: then the fence stays and a card asks first.
    const asked = await requestReturn(deps, { incident, service, actor: SYSTEM, reason: 'expiry' });
    if (asked.card) {
      await deps.chat.post(
        incident.channel,
        notice(`:hourglass: The quarantine of ${service} expired, but it stays in place: ${asked.summary}`),
      );
    }
  });
}
