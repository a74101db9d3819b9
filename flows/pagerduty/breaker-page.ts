// PagerDuty mirror, the breaker's page: Events API v2 when no incident is open for the service.
import { resolveSecret } from '../../src/config.ts';
import { ExternalServiceError } from '../../src/errors.ts';
import type { BreakerPage, BreakerTrigger } from './state.ts';
import type { MirrorContext } from './state.ts';
import { breakerKey, sleep } from './state.ts';

/**
 * For the breaker: pages through Events API v2 with the service's routing key when no incident is open for
 * the service (an open one gets the trip on its timeline, mirrored as a note, instead).
 */
export async function triggerBreakerPage(
  c: MirrorContext,
  input: {
    service: string;
    summary: string;
    details?: Record<string, unknown>;
  },
): Promise<BreakerPage> {
  const { incidents, config, env, store, log } = c.deps;
  const open = (await incidents.listActive()).find((i) => i.service === input.service);
  if (open)
    return { paged: false, reason: `incident ${open.id} is open for ${input.service}`, incident: open.id };
  const ref = config.services[input.service]?.pagerduty?.routingKey;
  if (!ref) return { paged: false, reason: `no pagerduty.routingKey configured for ${input.service}` };
  if (!c.deps.events) return { paged: false, reason: 'the PagerDuty Events API is not set up' };
  const routingKey = resolveSecret(ref, `services.${input.service}.pagerduty.routingKey`, env);
  const dedupKey = `cloud-safety/${input.service}/breaker`;
  const remember = (trigger: BreakerTrigger) =>
    store.set(breakerKey(input.service), JSON.stringify(trigger), { ttlMs: 60 * 60_000 });
  // Written before sending: an incident declared while the trigger is in flight waits for its page to land.
  await remember({ dedupKey, at: c.deps.now().toISOString(), accepted: false });
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await c.deps.events.trigger({
        routingKey,
        summary: input.summary,
        source: `cloud-safety/${input.service}`,
        severity: 'critical',
        dedupKey,
        component: input.service,
        class: 'circuit breaker trip',
        ...(input.details ? { customDetails: input.details } : {}),
      });
      await remember({ dedupKey: result.dedupKey, at: c.deps.now().toISOString(), accepted: true });
      return { paged: true, dedupKey: result.dedupKey };
    } catch (err) {
      const retryable = err instanceof ExternalServiceError && err.retryable;
      log.warn({ service: input.service, attempt, retryable }, 'breaker page to pagerduty failed');
      if (!retryable || attempt >= c.opts.triggerAttempts) {
        // No page went out: nothing to wait for, so a declared incident pages through the REST API.
        await store.del(breakerKey(input.service));
        throw err;
      }
      await sleep(Math.min(c.opts.retryBaseMs * 2 ** (attempt - 1), c.opts.retryMaxMs));
    }
  }
}
