// The drill's story on an injected clock: cloud pods leak with the traffic they get, are OOMKilled at their limit,
// the 5xx ratio follows the leak, and everything recovers once Route 53 sends the traffic to legacy. Read over the
// simulators' own wire (Prometheus query API, Kubernetes API), as the bot reads them.
import assert from 'node:assert/strict';
import { startDrillWorld, type DrillWorld } from '../../../src/drill/world.ts';
import { loadScenario } from '../../../src/drill/scenario.ts';
import { Story } from '../../../src/drill/story.ts';

// The story needs no ledger: no PostgreSQL, and no embedded one (its initdb would only slow these tests).
const NO_LEDGER = { postgresUrl: 'postgres://postgres@127.0.0.1:1/postgres', embeddedLedger: false } as const;

async function promValue(world: DrillWorld, query: string): Promise<number> {
  const res = await fetch(`${world.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
  return Number(body.data.result[0]?.value[1]);
}

async function pods(world: DrillWorld): Promise<{ name: string; restarts: number; reason?: string }[]> {
  const res = await fetch(
    `${world.cluster.url}/api/v1/namespaces/payments/pods?labelSelector=app%3Dpayments`,
  );
  const body = (await res.json()) as {
    items: {
      metadata: { name: string };
      status: {
        containerStatuses: { restartCount: number; lastState?: { terminated?: { reason: string } } }[];
      };
    }[];
  };
  return body.items.map((p) => ({
    name: p.metadata.name,
    restarts: p.status.containerStatuses[0]?.restartCount ?? 0,
    ...(p.status.containerStatuses[0]?.lastState?.terminated
      ? { reason: p.status.containerStatuses[0].lastState.terminated.reason }
      : {}),
  }));
}

const MEMORY =
  'max(container_memory_working_set_bytes{pod=~"payments-cloud-.*"}) / max(kube_pod_container_resource_limits)';
const ERRORS =
  'sum(rate(http_requests_total{service="payments-cloud", code=~"5.."}[2m])) / sum(rate(http_requests_total{service="payments-cloud"}[2m]))';

describe('drill story (injected clock)', () => {
  let world: DrillWorld | undefined;
  afterEach(async () => {
    await world?.stop();
    world = undefined;
  });

  it('ramps memory, OOMKills the leaking pod, and 5xx follows; a shift to legacy lets it recover', async () => {
    let clock = Date.parse('2026-12-01T03:00:00Z');
    world = await startDrillWorld({ timeFactor: 1, now: () => clock, ...NO_LEDGER });
    const startMemory = await promValue(world, MEMORY);
    const startErrors = await promValue(world, ERRORS);
    assert.ok(startMemory > 0.96 && startMemory < 0.98, String(startMemory));

    clock += 4 * 60_000; // x2k4q climbs 12 MiB/min from 1990 MiB: at its limit in about 5 minutes
    const climbing = await promValue(world, MEMORY);
    assert.ok(climbing > startMemory, `memory climbs: ${startMemory} -> ${climbing}`);
    assert.ok((await promValue(world, ERRORS)) > startErrors, '5xx follows the leak');
    assert.equal((await pods(world)).find((p) => p.name.endsWith('x2k4q'))?.restarts, 3);

    clock += 2 * 60_000;
    const after = await pods(world);
    const x = after.find((p) => p.name.endsWith('x2k4q'));
    assert.equal(x?.restarts, 4, 'OOMKilled at its limit and restarted');
    assert.equal(x?.reason, 'OOMKilled');
    assert.equal(world.story.ooms.length, 1);

    // Contain: all traffic to legacy. The cloud pods get no requests, GC catches up, 5xx recovers.
    world.route53.setRecords(
      'Z0DRILLPAYMENTS',
      world.route53
        .records('Z0DRILLPAYMENTS')
        .map((r) =>
          r.setIdentifier === 'legacy'
            ? { ...r, weight: 100 }
            : r.setIdentifier === 'cloud'
              ? { ...r, weight: 0 }
              : r,
        ),
    );
    assert.equal(world.cloudShare(), 0);
    const atShift = await promValue(world, MEMORY);
    clock += 30 * 60_000;
    const recovered = await promValue(world, MEMORY);
    assert.ok(recovered < atShift, `memory recovers: ${atShift} -> ${recovered}`);
    assert.ok((await promValue(world, ERRORS)) <= 0.0011, '5xx back to the healthy base');
    assert.equal(world.story.ooms.length, 1, 'no more OOMKills once traffic left');
    assert.equal(
      await promValue(world, 'sum(rate(http_requests_total{service="payments-cloud"}[2m])) >= bool 5'),
      0,
    );
  });

  it('runs the scenario faults at their story time, scaled by the time factor', async () => {
    let clock = 0;
    world = await startDrillWorld({
      timeFactor: 0.05,
      now: () => clock,
      ...NO_LEDGER,
      scenario: loadScenario('payments-leak'),
    });
    clock += 119_000 * 0.05;
    world.story.advance();
    assert.equal(world.injected.length, 0);
    clock += 2_000 * 0.05;
    world.story.advance();
    assert.deepEqual(
      world.injected.map((f) => f.fault),
      ['route53-throttling'],
    );
    clock += 4 * 60_000 * 0.05;
    world.story.advance();
    assert.deepEqual(
      world.injected.map((f) => f.fault),
      ['route53-throttling', 'oom'],
    );
  });

  it('an injected OOM takes down the pod with the most headroom', () => {
    const clock = 0;
    const story = new Story({
      scenario: loadScenario('seed'),
      timeFactor: 1,
      now: () => clock,
      cloudShare: () => 0.8,
    });
    const pod = story.oomNow();
    assert.equal(pod?.name, 'payments-cloud-7d9f8b6c5-p5r7t');
    assert.equal(pod?.restarts, 1);
  });
});
