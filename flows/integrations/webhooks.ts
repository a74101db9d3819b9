// Outbound events: every timeline event POSTed to the configured webhooks, signed, retried, at least once.
// Runs beside the incident, never in its way: an append only enqueues; a receiver's outage delays its copy only.
import { createHmac } from 'node:crypto';
import { resolveSecret, type Integrations, type OutboundWebhook } from '../../src/config.ts';
import type { IntegrationsCaps } from './caps.ts';
import { WEBHOOK_FAILED } from '../../src/events.ts';
import { takeLease, type Lease } from '../../src/lease.ts';
import { getJson } from '../../src/store/store.ts';
import { SYSTEM, type TimelineEvent } from '../../src/timeline.ts';

const QUEUE = 'webhooks';
const PENDING = 'webhooks:pending';
const SWEEP_LEASE = 'webhooks:sweep';
/** A delivery not finished this long after it was due is taken up again (its replica died mid-flight). */
export const VISIBILITY_MS = 60_000;
const TIMEOUT_MS = 10_000;
const recordKey = (member: string) => `webhooks:delivery:${member}`;

interface Delivery {
  hook: string;
  event: TimelineEvent;
  attempts: number;
  nextAt: number;
  lastError?: string;
}

interface Hook extends OutboundWebhook {
  secretValue: string;
}

/** The signature receivers check: hex HMAC-SHA256 over `<timestamp>.<body>` with the hook's secret. */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function wants(hook: Pick<OutboundWebhook, 'kinds'>, kind: string): boolean {
  return hook.kinds.some((k) => (k.endsWith('*') ? kind.startsWith(k.slice(0, -1)) : k === kind));
}

/** 408 and 429 are "later"; any other 4xx is the receiver refusing this body, which a retry will not change. */
function permanent(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

export class WebhookDelivery {
  #deps: IntegrationsCaps;
  #hooks: Hook[];
  #section: Integrations;

  constructor(deps: IntegrationsCaps, section: Integrations, env: NodeJS.ProcessEnv) {
    this.#deps = deps;
    this.#section = section;
    this.#hooks = section.webhooks.map((hook, i) => ({
      ...hook,
      secretValue: resolveSecret(hook.secret, `integrations.webhooks[${i}].secret`, env),
    }));
    if (this.#hooks.length === 0) return;
    deps.timeline.onAppend((event) => this.#enqueue(event));
    deps.scheduler.handle(QUEUE, (member) => this.deliver(member));
    deps.scheduler.every('webhooks-sweep', VISIBILITY_MS / 2, () => this.sweep());
  }

  #enqueue(event: TimelineEvent): void {
    // Our own failure reports stay on the timeline only: reporting a failed delivery by delivering would loop.
    if (event.kind.startsWith('webhook.')) return;
    const hooks = this.#hooks.filter((h) => wants(h, event.kind));
    if (hooks.length === 0) return;
    const { store, scheduler, now, tasks } = this.#deps;
    tasks.run(`webhooks:enqueue:${event.hash}`, async () => {
      for (const hook of hooks) {
        const member = `${hook.name}~${event.incident}~${event.hash}`;
        const at = now().getTime();
        const record: Delivery = { hook: hook.name, event, attempts: 0, nextAt: at };
        if (!(await store.set(recordKey(member), JSON.stringify(record), { ifAbsent: true }))) continue;
        await store.addToSet(PENDING, member);
        await scheduler.at(QUEUE, member, at);
      }
    });
  }

  /** One attempt for one delivery; success or giving up ends it, anything else schedules the next try. */
  async deliver(member: string): Promise<void> {
    const { store, scheduler, now, log, incidents } = this.#deps;
    const record = await getJson<Delivery>(store, recordKey(member));
    const hook = record && this.#hooks.find((h) => h.name === record.hook);
    if (!record || !hook) {
      await store.removeFromSet(PENDING, member);
      return;
    }
    const body = JSON.stringify({ id: record.event.hash, webhook: hook.name, event: record.event });
    const timestamp = String(Math.floor(now().getTime() / 1000));
    const attempts = record.attempts + 1;
    let status = 0;
    let error: string | undefined;
    let retryAfterMs: number | undefined;
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'cloud-safety-webhooks/1',
          'idempotency-key': record.event.hash,
          'x-cloud-safety-event': record.event.kind,
          'x-cloud-safety-delivery': member,
          'x-cloud-safety-attempt': String(attempts),
          'x-cloud-safety-timestamp': timestamp,
          'x-cloud-safety-signature': signature(hook.secretValue, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      status = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        await store.del(recordKey(member));
        await store.removeFromSet(PENDING, member);
        return;
      }
      error = `HTTP ${res.status}`;
      const after = Number(res.headers.get('retry-after'));
      if (Number.isFinite(after) && after > 0) retryAfterMs = after * 1000;
    } catch (err) {
      const e = err as Error;
      const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
      error = e.name === 'TimeoutError' ? `no answer in ${TIMEOUT_MS / 1000} s` : `${e.message}${cause}`;
    }
    const giveUp = permanent(status) || attempts >= this.#section.attempts;
    log.warn(
      { webhook: hook.name, incident: record.event.incident, attempts, error },
      'webhook delivery failed',
    );
    if (giveUp) {
      await store.del(recordKey(member));
      await store.removeFromSet(PENDING, member);
      await incidents.record(record.event.incident, {
        step: null,
        kind: WEBHOOK_FAILED,
        actor: SYSTEM,
        summary: `Webhook ${hook.name} did not take the ${record.event.kind} event after ${attempts} attempt${attempts === 1 ? '' : 's'} (${error}); ${permanent(status) ? 'it refused the body, so the bot stopped' : 'the bot gave up'}. Check the receiver.`,
        data: {
          webhook: hook.name,
          event: record.event.hash,
          kind: record.event.kind,
          attempts,
          error,
          status,
        },
      });
      return;
    }
    const backoff = Math.min(this.#section.retryMax, this.#section.retryBase * 2 ** (attempts - 1));
    const nextAt = now().getTime() + Math.max(backoff, retryAfterMs ?? 0);
    const next: Delivery = { ...record, attempts, nextAt, ...(error ? { lastError: error } : {}) };
    await store.set(recordKey(member), JSON.stringify(next));
    await scheduler.at(QUEUE, member, nextAt);
  }

  /** Takes up deliveries whose replica died between claiming and finishing them (the scheduler's claim is a delete). */
  async sweep(): Promise<void> {
    const { store, instanceId } = this.#deps;
    // One replica sweeps at a time; the lease is released when the pass ends (the scheduler paces the passes).
    const lease = await takeLease(store, SWEEP_LEASE, { owner: instanceId, ttlMs: VISIBILITY_MS });
    if (!lease) return;
    try {
      await this.#sweepHeld(lease);
    } finally {
      await lease.release();
    }
  }

  async #sweepHeld(lease: Lease): Promise<void> {
    const { store, scheduler, now } = this.#deps;
    const at = now().getTime();
    for (const member of await store.members(PENDING)) {
      const record = await getJson<Delivery>(store, recordKey(member));
      if (!record) {
        await store.removeFromSet(PENDING, member);
        continue;
      }
      if (record.nextAt + VISIBILITY_MS < at) {
        lease.check();
        await store.set(recordKey(member), JSON.stringify({ ...record, nextAt: at }));
        await scheduler.at(QUEUE, member, at);
      }
    }
  }

  /** Deliveries not yet done (for tests and the docs' drill). */
  pending(): Promise<string[]> {
    return this.#deps.store.members(PENDING);
  }
}
