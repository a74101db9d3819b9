// The integrations step's face: its HTTP routes and what it registers on the bot (outbound webhooks).
import type { Deps } from '../../src/deps.ts';
import { WebhookDelivery } from './webhooks.ts';

export { integrationRoutes } from './routes.ts';

const webhooks = new WeakMap<Deps, WebhookDelivery>();

/** Subscribes the outbound webhooks to the timeline; a missing secret fails the start, naming the variable. */
export function registerIntegrations(deps: Deps, env: NodeJS.ProcessEnv): void {
  const section = deps.config.integrations;
  if (!section) return;
  webhooks.set(deps, new WebhookDelivery(deps, section, env));
}

export function webhooksOf(deps: Deps): WebhookDelivery | undefined {
  return webhooks.get(deps);
}
