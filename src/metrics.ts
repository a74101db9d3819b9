// Prometheus metrics for /metrics: commands by name and outcome, ack latency, adapter call durations.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Outcome = 'ok' | 'usage' | 'denied' | 'error';

export interface Metrics {
  registry: Registry;
  commands: Counter<'command' | 'outcome'>;
  ackSeconds: Histogram<'kind'>;
  adapterSeconds: Histogram<'adapter' | 'operation' | 'outcome'>;
  /** Times an adapter call and records it, whatever its outcome. */
  timed<T>(adapter: string, operation: string, fn: () => Promise<T>): Promise<T>;
}

export function createMetrics(opts: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaults ?? true) collectDefaultMetrics({ register: registry, prefix: 'cloud_safety_' });
  const commands = new Counter({
    name: 'cloud_safety_commands_total',
    help: 'Slash commands handled, by command and outcome (ok, usage, denied, error)',
    labelNames: ['command', 'outcome'] as const,
    registers: [registry],
  });
  const ackSeconds = new Histogram({
    name: 'cloud_safety_ack_seconds',
    help: 'Time from receiving a Slack request to acknowledging it',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const adapterSeconds = new Histogram({
    name: 'cloud_safety_adapter_call_seconds',
    help: 'Duration of calls to outside systems, by adapter, operation and outcome',
    labelNames: ['adapter', 'operation', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [registry],
  });
  async function timed<T>(adapter: string, operation: string, fn: () => Promise<T>): Promise<T> {
    const end = adapterSeconds.startTimer({ adapter, operation });
    try {
      const result = await fn();
      end({ outcome: 'ok' });
      return result;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }
  return { registry, commands, ackSeconds, adapterSeconds, timed };
}
