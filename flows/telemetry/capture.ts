// Step L evidence capture: what can't be lost first (status, events, previous logs), then dumps streamed out of pods.
import { captureMessage } from './blocks.ts';
import { CAPTURE_FINISHED } from '../../src/events.ts';
import { type PodRow } from '../../src/workload.ts';
import { captureBasics } from './artifacts.ts';
import { randomUUID } from 'node:crypto';
import type { TelemetryCaps } from './caps.ts';
import type { CaptureRequest, CaptureState, CaptureSummary } from './capture-state.ts';
import { addItem, refreshCard, stepsOf, viewOf } from './capture-state.ts';
import { captureDumps } from './dumps.ts';

export type { CaptureRequest, CaptureSummary } from './capture-state.ts';

/** Runs everything asked for and reports it; never throws for a single artifact. */
export async function runCapture(cr: CaptureState): Promise<CaptureSummary> {
  const { targets } = cr.req;
  for (const pod of targets) {
    if (cr.req.basics) {
      addItem(cr, pod.name, 'pod-status');
      if (pod.restarts > 0) addItem(cr, pod.name, 'previous-logs');
    }
    if (cr.req.dumps) for (const step of stepsOf(cr)) addItem(cr, pod.name, step.kind);
  }
  try {
    cr.message = await cr.deps.chat.post(cr.req.incident.channel, captureMessage(viewOf(cr)));
  } catch (err) {
    cr.deps.log.warn({ err, capture: cr.id }, 'could not post the capture card');
  }
  // What can't be lost comes first, for every pod, before anything heavy touches one of them.
  if (cr.req.basics) for (const pod of targets) await captureBasics(cr, pod);
  if (cr.req.dumps) {
    const byNode = new Map<string, PodRow[]>();
    for (const pod of targets) {
      const key = pod.node ?? `unscheduled:${pod.name}`;
      byNode.set(key, [...(byNode.get(key) ?? []), pod]);
    }
    // Nodes in parallel, pods on one node one after the other: never two dumps on a node at once.
    await Promise.all(
      [...byNode.entries()].map(async ([node, pods]) => {
        for (const pod of pods) await captureDumps(cr, pod, node);
      }),
    );
  }
  const kept = cr.items.filter((i) => i.state === 'kept').length;
  const failed = cr.items.filter((i) => i.state === 'failed').length;
  const skipped = cr.items.filter((i) => i.state === 'skipped').length;
  cr.finished = { kept, failed, skipped };
  await cr.deps.incidents.record(cr.req.incident.id, {
    step: 'L',
    kind: CAPTURE_FINISHED,
    actor: cr.req.actor,
    summary: `Evidence from ${targets.map((t) => t.name).join(', ')}: ${kept} kept, ${failed} failed, ${skipped} skipped`,
    data: {
      capture: cr.id,
      service: cr.req.service,
      pods: targets.map((t) => t.name),
      kept,
      failed,
      skipped,
      items: cr.items.map((i) => ({
        pod: i.pod,
        kind: i.kind,
        state: i.state,
        ...(i.uri ? { uri: i.uri } : {}),
        ...(i.detail ? { detail: i.detail } : {}),
      })),
    },
    stepState: failed === 0 && kept > 0 && cr.req.dumps ? 'done' : 'in_progress',
  });
  refreshCard(cr);
  return { id: cr.id, kept, failed, skipped, ...(cr.message ? { message: cr.message } : {}) };
}

/** One evidence capture: its card, the basics of every pod, then dumps one node at a time. */
export class CaptureRun {
  #state: CaptureState;

  constructor(deps: TelemetryCaps, req: CaptureRequest) {
    this.#state = {
      deps,
      req,
      id: randomUUID().slice(0, 8),
      items: [],
      offers: [],
      message: undefined,
      finished: undefined,
      execForbidden: undefined,
      gone: new Map<string, string>(),
    };
  }

  get id(): string {
    return this.#state.id;
  }

  /** Runs everything asked for and reports it; never throws for a single artifact. */
  run(): Promise<CaptureSummary> {
    return runCapture(this.#state);
  }
}
