// The integrations step's face: its HTTP routes and what it registers on the bot (outbound webhooks, post-mortem out).
import type { IntegrationsCaps } from './caps.ts';
import { PostmortemOut } from './postmortem-out.ts';
import { WebhookDelivery } from './webhooks.ts';

export { integrationRoutes } from './routes.ts';

interface Registered {
  webhooks?: WebhookDelivery;
  postmortemOut?: PostmortemOut;
}

const registered = new WeakMap<IntegrationsCaps, Registered>();

/** Subscribes to the timeline; a secret named but missing fails the start, naming the variable. */
export function registerIntegrations(deps: IntegrationsCaps, env: NodeJS.ProcessEnv): void {
  const section = deps.config.integrations;
  if (!section) return;
  const out = new PostmortemOut(deps);
  registered.set(deps, {
    webhooks: new WebhookDelivery(deps, section, env),
    ...(out.enabled ? { postmortemOut: out } : {}),
  });
}

export function webhooksOf(deps: IntegrationsCaps): WebhookDelivery | undefined {
  return registered.get(deps)?.webhooks;
}

export function postmortemOutOf(deps: IntegrationsCaps): PostmortemOut | undefined {
  return registered.get(deps)?.postmortemOut;
}
export type { IntegrationsCaps } from './caps.ts';
