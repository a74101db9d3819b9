// The Events API v2 adapter over pdjs: triggers with a routing key, no REST token involved.
import { Agent } from 'node:https';
import { event } from '@pagerduty/pdjs';
import { ConfigError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { PdResponse } from './pagerduty-wire.ts';
import { text, transportError } from './pagerduty-wire.ts';
import type { TriggerInput, PagerDutyEvents } from './pagerduty-types.ts';
import { PagerDutyError } from './pagerduty-types.ts';

export interface PdjsEventsOptions {
  /** Default https://events.pagerduty.com (https://events.eu.pagerduty.com for EU accounts). */
  eventsUrl?: string;
  metrics?: Metrics;
  timeoutMs?: number;
  retryTimeoutMs?: number;
  /** PEM certificate(s) to trust for the Events host besides the system's (a TLS-inspecting proxy, the drill). */
  ca?: string;
}

/** Events API v2 through pdjs: a trigger with a routing key, no REST token involved. */
export class PdjsPagerDutyEvents implements PagerDutyEvents {
  #server: string;
  #metrics: Metrics | undefined;
  #timeoutMs: number;
  #retryTimeoutMs: number;
  #agent: Agent | undefined;

  constructor(opts: PdjsEventsOptions = {}) {
    const url = opts.eventsUrl ?? 'https://events.pagerduty.com';
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(
        `PAGERDUTY_EVENTS_URL="${url}" is not a URL, e.g. https://events.eu.pagerduty.com`,
      );
    }
    // pdjs always posts to https://<server>/v2/enqueue, so only the host can change.
    if (parsed.protocol !== 'https:' || (parsed.pathname !== '/' && parsed.pathname !== '')) {
      throw new ConfigError(
        `PAGERDUTY_EVENTS_URL="${url}" must be https://<host> with no path, e.g. https://events.eu.pagerduty.com`,
      );
    }
    this.#server = parsed.host;
    this.#metrics = opts.metrics;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#retryTimeoutMs = opts.retryTimeoutMs ?? 2000;
    this.#agent = opts.ca ? new Agent({ ca: opts.ca }) : undefined;
  }

  async trigger(input: TriggerInput): Promise<{ dedupKey: string }> {
    const where = `${this.#server}/v2/enqueue`;
    const run = async () => {
      let res: PdResponse;
      try {
        res = (await event({
          server: this.#server,
          data: {
            routing_key: input.routingKey,
            event_action: 'trigger',
            ...(input.dedupKey ? { dedup_key: input.dedupKey } : {}),
            payload: {
              summary: input.summary.slice(0, 1024),
              source: input.source,
              severity: input.severity,
              timestamp: new Date().toISOString(),
              ...(input.component ? { component: input.component } : {}),
              ...(input.group ? { group: input.group } : {}),
              ...(input.class ? { class: input.class } : {}),
              ...(input.customDetails ? { custom_details: input.customDetails } : {}),
            },
            ...(input.links ? { links: input.links } : {}),
          },
          requestTimeout: 0,
          retryTimeout: this.#retryTimeoutMs,
          // pdjs hands its options to node-fetch, which takes the agent (and with it the extra CA).
          ...(this.#agent ? { agent: this.#agent } : {}),
          signal: AbortSignal.timeout(this.#timeoutMs),
        } as Parameters<typeof event>[0])) as unknown as PdResponse;
      } catch (err) {
        throw transportError(err, where);
      }
      const body = res.data as { status?: unknown; message?: unknown; errors?: unknown; dedup_key?: unknown };
      if (res.status === 202 || res.ok) {
        const dedupKey = text(body?.dedup_key) ?? input.dedupKey ?? '';
        return { dedupKey };
      }
      const errors = Array.isArray(body?.errors) ? body.errors.filter((e) => typeof e === 'string') : [];
      const said = [text(body?.message), ...errors].filter(Boolean).join(': ');
      if (res.status === 429) {
        throw new PagerDutyError(
          `PagerDuty Events API is rate limiting this routing key (429${said ? ` ${said}` : ''}); it takes about 120 events a minute per key. The bot retries.`,
          { status: 429, retryable: true },
        );
      }
      if (res.status >= 500) {
        throw new PagerDutyError(
          `PagerDuty Events API is failing (HTTP ${res.status}${said ? ` ${said}` : ''}); the bot retries.`,
          { status: res.status, retryable: true },
        );
      }
      const keyHint = /routing.?key|integration/i.test(said)
        ? "; check the service's pagerduty.routingKey (the Integration Key of an Events API v2 integration)"
        : '';
      throw new PagerDutyError(
        `PagerDuty Events API refused the trigger (HTTP ${res.status}${said ? `: ${said}` : ''})${keyHint}.`,
        { status: res.status },
      );
    };
    return this.#metrics ? this.#metrics.timed('pagerduty', 'events_trigger', run) : run();
  }
}
