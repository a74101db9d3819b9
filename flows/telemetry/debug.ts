// Step L, the "Debug container" button: dumps from an ephemeral debug container.
import { randomUUID } from 'node:crypto';
import type { ButtonPress, Message } from '../../src/chat/chat.ts';
import { errorMessage, notice } from '../../src/chat/blocks/common.ts';
import type { TelemetryCaps } from './caps.ts';
import { UsageError } from '../../src/errors.ts';
import { DEBUG_CONTAINER_ADDED } from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { type Actor } from '../../src/timeline.ts';
import { CaptureRun } from './capture.ts';
import { recordFailure } from './snapshot.ts';
import { rowsForPods, workloadOf } from './workload.ts';

/** The "Debug container" button: add an ephemeral container with the debug image and take the dumps from it. */
export async function debugContainerCapture(
  deps: TelemetryCaps,
  req: { incident: Incident; pod: string; actor: Actor; respond(message: Message): Promise<void> },
): Promise<void> {
  const { cfg, cluster, evidence } = workloadOf(deps, req.incident.service);
  if (!cfg.debugImage) {
    throw new UsageError(
      `services.${req.incident.service}.kubernetes.debugImage is not set, so there is no debug image to run. Set it (an image with the dump tools) and run /telemetry again.`,
    );
  }
  const pod = await cluster.getPod(cfg.namespace, req.pod, cfg.container);
  if (!pod || pod.deletingSince) {
    throw new UsageError(`Pod ${req.pod} is gone; run /telemetry again to pick the current worst pods.`);
  }
  const name = `cs-debug-${randomUUID().slice(0, 5)}`;
  try {
    await cluster.addDebugContainer(cfg.namespace, pod.name, {
      name,
      image: cfg.debugImage,
      target: cfg.container,
    });
  } catch (err) {
    await recordFailure(deps, req.incident, req.actor, 'debug container', err);
    throw err;
  }
  await deps.incidents.record(req.incident.id, {
    step: 'L',
    kind: DEBUG_CONTAINER_ADDED,
    actor: req.actor,
    summary: `Added ephemeral container ${name} (${cfg.debugImage}) to ${pod.name}, targeting ${cfg.container}`,
    data: { pod: pod.name, uid: pod.uid, container: name, image: cfg.debugImage, target: cfg.container },
  });
  await req.respond(
    notice(`Adding debug container \`${name}\` to \`${pod.name}\`; the dumps follow when it runs.`),
  );
  // The kubelet pulls the image and starts it; wait for it to run (the image pull is the slow part).
  const deadline = deps.now().getTime() + 120_000;
  for (;;) {
    const now = await cluster.getPod(cfg.namespace, pod.name, cfg.container);
    if (!now) throw new UsageError(`Pod ${pod.name} went away while its debug container started.`);
    if (now.ephemeral?.some((e) => e.name === name && e.running)) break;
    if (Date.now() > deadline) {
      throw new UsageError(
        `The debug container ${name} did not start within 2 minutes (image pull?). Check kubectl describe pod ${pod.name} -n ${cfg.namespace}.`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const rows = await rowsForPods(deps, cfg, cluster, [pod.name], cfg.selector);
  await new CaptureRun(deps, {
    incident: req.incident,
    service: req.incident.service,
    cfg,
    cluster,
    evidence,
    targets: rows,
    actor: req.actor,
    basics: false,
    dumps: true,
    debugContainer: name,
  }).run();
}

/** "Debug container" on the capture card: value is `<incident id>|<pod>`. */
export async function debugContainerButton(
  press: ButtonPress,
  actor: Actor,
  deps: TelemetryCaps,
): Promise<void> {
  const match = /^(INC-[0-9]+)\|([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(press.value);
  if (!match?.[1] || !match[2])
    return press.respond(errorMessage('That button does not name an incident and a pod; it did nothing.'));
  const incident = await deps.incidents.active(press.channel);
  if (!incident || incident.id !== match[1]) {
    return press.respond(
      errorMessage(
        `That button belongs to ${match[1]}, which is not the active incident of this channel; nothing was done.`,
      ),
    );
  }
  await debugContainerCapture(deps, { incident, pod: match[2], actor, respond: (m) => press.respond(m) });
}
