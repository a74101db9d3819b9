// The post-mortem model reads events written by other steps: missing, extra or mistyped fields never break it.
import assert from 'node:assert/strict';
import type { Incident } from '../../../src/incident.ts';
import { renderMarkdown } from '../../../flows/postmortem/markdown.ts';
import { buildPostmortem } from '../../../flows/postmortem/model.ts';
import { newChecklist } from '../../../src/runbook.ts';
import { sealEvent, verifyChain, type Actor, type Step, type TimelineEvent } from '../../../src/timeline.ts';

const ALICE: Actor = { type: 'user', id: 'U0ALICE', name: 'alice' };
const BOB: Actor = { type: 'user', id: 'U0BOB', name: 'bob' };
const SYSTEM: Actor = { type: 'system', id: 'cloud-safety', name: 'cloud-safety' };
const BREAKER: Actor = { type: 'breaker', id: 'breaker', name: 'breaker' };

function chain(
  specs: { at: string; kind: string; step?: Step | null; actor?: Actor; summary?: string; data?: unknown }[],
) {
  const events: TimelineEvent[] = [];
  let prev: string | null = null;
  for (const s of specs) {
    const event = sealEvent(
      {
        at: `2026-11-26T${s.at}Z`,
        incident: 'INC-7',
        step: s.step ?? null,
        kind: s.kind,
        actor: s.actor ?? SYSTEM,
        summary: s.summary ?? s.kind,
        data: s.data as Record<string, unknown>,
      },
      prev,
      new Date(),
    );
    events.push(event);
    prev = event.hash;
  }
  const verification = verifyChain(
    events.map((event, i) => ({ id: `${i}-0`, event })),
    prev,
  );
  return { events, verification };
}

const incident: Incident = {
  id: 'INC-7',
  service: 'payments',
  title: 'Checkout 502s',
  severity: 'SEV2',
  channel: 'C0PAY',
  commander: ALICE,
  status: 'active',
  declaredAt: '2026-11-26T10:00:00.000Z',
  checklist: newChecklist(),
};

describe('post-mortem model', () => {
  it('tolerates missing, extra and mistyped fields, and turns what happened into follow-ups with reasons', () => {
    const { events, verification } = chain([
      { at: '10:00:00', kind: 'incident.declared', actor: ALICE },
      { at: '10:01:00', kind: 'breaker.armed', step: 'D', summary: 'breaker armed on payments' },
      // Quarantine before any capture: the state of those pods is lost.
      { at: '10:02:00', kind: 'telemetry.quarantined', step: 'L', summary: 'quarantined 2 pods' },
      // Evidence written by a future version: no sha256, size as a string, unknown fields.
      {
        at: '10:03:00',
        kind: 'evidence.captured',
        step: 'L',
        data: { uri: 's3://evidence/INC-7/threads.txt', kind: 'threads', size: '12kB', novel: [1, 2] },
      },
      { at: '10:03:30', kind: 'evidence.failed', step: 'L', summary: 'heap dump of payments-1 timed out' },
      // A traffic event with nonsense in its numbers.
      {
        at: '10:04:00',
        kind: 'traffic.submitted',
        step: 'C',
        data: { before: 'x', after: null, ttl: 'sixty' },
      },
      {
        at: '10:05:00',
        kind: 'breaker.tripped',
        step: 'D',
        actor: BREAKER,
        data: { values: { memory: 0.97 }, thresholds: { memory: 0.9 }, breaches: 3 },
      },
      { at: '10:05:01', kind: 'breaker.inconclusive', step: 'D', data: null },
      // A break-glass action that failed, and a request nobody approved in time.
      {
        at: '10:06:00',
        kind: 'action.requested',
        step: 'C',
        actor: ALICE,
        summary: 'alice requested: Shift payments to legacy 100% (BREAK-GLASS: leads asleep)',
        data: {
          action: 'act-1',
          kind: 'traffic.shift',
          basis: { weights: [80, 20] },
          change: { weights: [0, 100] },
          changeHash: 'abc',
          breakGlass: 'leads asleep',
        },
      },
      {
        at: '10:06:00',
        kind: 'action.approved',
        step: 'C',
        actor: ALICE,
        data: { action: 'act-1', kind: 'traffic.shift' },
      },
      {
        at: '10:06:30',
        kind: 'action.failed',
        step: 'C',
        summary: 'FAILED: Shift payments to legacy 100%. PriorRequestNotComplete',
        data: { action: 'act-1' },
      },
      {
        at: '10:07:00',
        kind: 'action.requested',
        step: 'O',
        actor: ALICE,
        summary: 'alice requested: Lock cloud writers',
        data: { action: 'act-2', kind: 'ledger.lock' },
      },
      { at: '10:22:00', kind: 'action.expired', step: 'O', data: { action: 'act-2' } },
      // A slow approval.
      {
        at: '10:23:00',
        kind: 'action.requested',
        step: 'D',
        actor: ALICE,
        summary: 'alice requested: Arm breaker',
        data: { action: 'act-3', kind: 'breaker.arm' },
      },
      { at: '10:31:00', kind: 'action.approved', step: 'D', actor: BOB, data: { action: 'act-3' } },
      {
        at: '10:31:05',
        kind: 'action.succeeded',
        step: 'D',
        summary: 'Done: Arm breaker. armed',
        data: { action: 'act-3' },
      },
      { at: '10:40:00', kind: 'sandbox.up', step: 'U', summary: 'sandbox sbx-7 up' },
      { at: '10:41:00', kind: 'ledger.audited', step: 'O', data: { counts: 'garbage' } },
      { at: '10:42:00', kind: 'some.future.kind', data: { whatever: true } },
      { at: '10:43:00', kind: 'action.progress', data: {} },
    ]);

    const pm = buildPostmortem({
      incident,
      events,
      verification,
      generatedAt: new Date('2026-11-26T11:00:00Z'),
      generatedBy: 'carol',
    });
    const md = renderMarkdown(pm);

    assert.equal(pm.evidence.captured[0]?.sha256Valid, false);
    assert.equal(pm.evidence.captured[0]?.size, null);
    assert.ok(md.includes('| **missing** | **missing** |'), 'size and SHA-256 shown as missing');
    assert.equal(pm.traffic[0]?.ttl, null);
    assert.equal(pm.ledger.audits[0]?.divergent, 0);
    assert.equal(pm.durations.timeToContainMs, null);
    assert.equal(pm.actions.find((a) => a.id === 'act-1')?.before, '{"weights":[80,20]}');
    assert.ok(md.includes('- **BREAK-GLASS**, no second approver. Reason: leads asleep'));
    assert.ok(
      md.includes('- Approved by: **nobody** (expired by cloud-safety (system) at 2026-11-26 10:22:00Z)'),
    );
    assert.ok(md.includes('- Result: **FAILED** at 2026-11-26 10:06:30Z'));
    assert.ok(
      md.includes('- **Tripped** 2026-11-26 10:05:00Z: breaker.tripped [memory 0.97 (threshold 0.9)]'),
    );

    const titles = pm.followUps.map((f) => f.title);
    assert.deepEqual(titles, [
      'Containment was never recorded: check how traffic left the failing stack',
      'Review the breaker trip and what it shifted',
      'Shorten the approval path (who was reachable, who was paged)',
      'Check approver coverage: a request expired unapproved',
      'Review the break-glass use',
      'Find out why "Shift payments to legacy 100% (BREAK-GLASS: leads asleep)" failed',
      'Capture heap and thread dumps before quarantining pods',
      'Re-check the evidence s3://evidence/INC-7/threads.txt and its chain of custody',
      'Find out why an evidence capture failed',
      'Tear the sandbox down when the investigation is done (/sandbox down)',
    ]);
    const why = (title: string) => pm.followUps.find((f) => f.title.startsWith(title))?.why ?? '';
    assert.match(
      why('Capture heap'),
      /quarantined at 2026-11-26 10:02:00Z with no evidence captured before it/,
    );
    assert.match(
      why('Shorten'),
      /"Arm breaker" waited 8m for a second person \(requested 2026-11-26 10:23:00Z, approved by bob\)/,
    );
    assert.match(why('Tear'), /came up at 2026-11-26 10:40:00Z and no teardown is recorded/);
    assert.ok(!titles.some((t) => t.startsWith('Arm the circuit breaker')), 'a breaker was armed');
  });
});
