// Step D breaker, its messages: where they go, the no-data alert, and delivery kept and retried when Slack does not take it.
import { randomUUID } from 'node:crypto';
import { breakerActor, describeEvaluation, type Evaluation } from './rules.ts';
import { noDataMessage } from './blocks.ts';
import type { Message, MessageRef } from '../../src/chat/chat.ts';
import type { Deps } from '../../src/deps.ts';
import { formatDuration } from '../../src/duration.ts';
import { BREAKER_INCONCLUSIVE, BREAKER_PAGED } from '../../src/events.ts';
import { getJson } from '../../src/store/store.ts';
import { getBreaker, type BreakerState } from './state.ts';
import type { BreakerPage } from '../pagerduty/index.ts';
import { breakerChart } from './chart.ts';
import type { EvaluatorContext } from './options.ts';

export const NOTIFY_QUEUE = 'breaker-notify';
const notifyKey = (id: string) => `breaker:notify:${id}`;
const NOTIFY_GIVE_UP_MS = 24 * 3_600_000;
/** Where breaker messages go when no incident is open: the service's channel, else where it was armed. */
export function homeChannel(deps: Deps, service: string, state: BreakerState | null): string | undefined {
  return deps.config.services[service]?.channel ?? state?.channel;
}

/** The incident to record on: the open one of the service, else the one where it was armed. */
export async function timelineFor(
  deps: Deps,
  service: string,
  state: BreakerState | null,
): Promise<{ incidentId?: string; channel?: string }> {
  const open = (await deps.incidents.listActive()).find((i) => i.service === service);
  if (open) return { incidentId: open.id, channel: open.channel };
  return {
    ...(state?.incident ? { incidentId: state.incident } : {}),
    ...(homeChannel(deps, service, state) ? { channel: homeChannel(deps, service, state) } : {}),
  };
}

interface Notice {
  id: string;
  channel: string;
  message: Message;
  /** Render and upload the breaker chart in the message's thread once it is posted. */
  chart?: { service: string; endMs: number };
  posted?: MessageRef;
  chartDone?: boolean;
  attempts: number;
  firstAt: number;
}
export async function alertNoData(
  ctx: EvaluatorContext,
  service: string,
  evaluation: Evaluation,
): Promise<void> {
  const { deps } = ctx;
  const state = await getBreaker(deps, service);
  const settings = state?.settings;
  if (!state || !settings) return;
  const { incidentId, channel } = await timelineFor(deps, service, state);
  const notes = state.last.slice(-settings.errorLimit).map((e) => describeEvaluation(e));
  const summary = `${service}'s breaker has had no usable metrics for ${settings.errorLimit} evaluations in a row (${describeEvaluation(evaluation)}); it cannot trip on a real breach until this is fixed`;
  if (incidentId) {
    await deps.incidents.record(incidentId, {
      step: 'D',
      kind: BREAKER_INCONCLUSIVE,
      actor: breakerActor(service),
      summary,
      data: { count: settings.errorLimit, last: notes, onNoData: settings.onNoData },
    });
  }
  if (channel) {
    await notify(ctx, {
      channel,
      message: noDataMessage({ service, settings, notes, ...(incidentId ? { incident: incidentId } : {}) }),
    });
  }
  let page: BreakerPage | { paged: false; error: string };
  try {
    page = await deps.pagerduty.triggerForBreaker({
      service,
      summary: `${service} breaker has no usable metrics (${settings.errorLimit} evaluations in a row); it cannot protect the migration`,
      details: { last: notes },
    });
  } catch (err) {
    page = { paged: false, error: (err as Error).message };
  }
  if (incidentId) {
    await deps.incidents.record(incidentId, {
      step: 'D',
      kind: BREAKER_PAGED,
      actor: breakerActor(service),
      summary: page.paged
        ? `PagerDuty paged: ${service}'s breaker has no data`
        : `PagerDuty not paged for the no-data alert: ${'error' in page ? page.error : (page.reason ?? '?')}`,
      data: { ...page, for: 'no_data' },
    });
  }
}

/** Posts now; when Slack does not take it, keeps it and retries with backoff (the shift never waits on Slack). */
export async function notify(
  ctx: EvaluatorContext,
  input: { channel: string; message: Message; chart?: Notice['chart'] },
): Promise<void> {
  const notice: Notice = {
    id: randomUUID(),
    channel: input.channel,
    message: input.message,
    ...(input.chart ? { chart: input.chart } : {}),
    attempts: 0,
    firstAt: ctx.deps.now().getTime(),
  };
  await ctx.deps.store.set(notifyKey(notice.id), JSON.stringify(notice), {
    ttlMs: NOTIFY_GIVE_UP_MS * 2,
  });
  await deliverNotice(ctx, notice.id);
}

/** One delivery attempt of a kept message (also the durable retry timer's handler). */
export async function deliverNotice(ctx: EvaluatorContext, id: string): Promise<void> {
  const deps = ctx.deps;
  const notice = await getJson<Notice>(deps.store, notifyKey(id));
  if (!notice) return;
  const save = (n: Notice) =>
    deps.store.set(notifyKey(id), JSON.stringify(n), { ttlMs: NOTIFY_GIVE_UP_MS * 2 });
  notice.attempts += 1;
  try {
    if (!notice.posted) {
      notice.posted = await deps.chat.post(notice.channel, notice.message);
      await save(notice);
    }
    if (notice.chart && !notice.chartDone) {
      const png = await breakerChart(ctx, notice.chart.service, notice.chart.endMs);
      if (png) {
        await deps.chat.upload(
          notice.channel,
          {
            filename: `${notice.chart.service}-breaker-${new Date(notice.chart.endMs).toISOString().replace(/[-:]/g, '').slice(0, 15)}.png`,
            title: `${notice.chart.service}: the breaker's conditions against their thresholds, last ${formatDuration(ctx.opts.chartWindowMs)}`,
            content: png.png,
            comment: png.note,
          },
          { threadTs: notice.posted.ts },
        );
      }
      notice.chartDone = true;
    }
    await deps.store.del(notifyKey(id));
  } catch (err) {
    const now = deps.now().getTime();
    if (now - notice.firstAt > NOTIFY_GIVE_UP_MS) {
      deps.log.error({ err, notice: id, channel: notice.channel }, 'breaker message given up after 24 h');
      await deps.store.del(notifyKey(id));
      return;
    }
    const delay = Math.min(ctx.opts.notifyRetryMs * 2 ** (notice.attempts - 1), 5 * 60_000);
    deps.log.warn(
      { err, notice: id, attempt: notice.attempts, delayMs: delay },
      'breaker message not delivered; will retry',
    );
    await save(notice);
    await deps.scheduler.at(NOTIFY_QUEUE, id, now + delay);
  }
}
