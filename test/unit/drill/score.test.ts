// The drill score from a timeline alone: times in story time, evidence before the first OOMKill, mistakes counted.
import assert from 'node:assert/strict';
import { drillScore, scoreLines } from '../../../flows/drill/score.ts';
import type { TimelineEvent } from '../../../src/timeline.ts';

const T0 = Date.parse('2026-12-03T03:00:00Z');

function event(seconds: number, kind: string, data: Record<string, unknown> = {}): TimelineEvent {
  return {
    at: new Date(T0 + seconds * 1000).toISOString(),
    incident: 'INC-1',
    step: null,
    kind,
    actor: { type: 'user', id: 'U0ALICE', name: 'alice' },
    summary: kind,
    data,
    prev: null,
    hash: `h${seconds}`,
  } as TimelineEvent;
}

describe('drill score', () => {
  it('is null for a real incident', () => {
    assert.equal(drillScore([event(0, 'incident.declared'), event(10, 'traffic.in_sync')]), null);
  });

  it('measures in story time (real seconds / time factor) and gives full marks for a clean, fast drill', () => {
    const score = drillScore([
      event(0, 'drill.started', { scenario: 'seed', timeFactor: 0.05 }),
      event(3, 'action.approved'),
      event(6, 'traffic.in_sync'),
      event(9, 'evidence.captured'),
      event(12, 'ledger.audited'),
      event(15, 'action.approved'),
      event(18, 'ledger.reconciled'),
    ]);
    assert.ok(score);
    assert.equal(score.timeToFirstApprovalMs, 60_000);
    assert.equal(score.timeToContainMs, 120_000);
    assert.equal(score.timeToEvidenceMs, 180_000);
    assert.equal(score.approvals, 2);
    assert.equal(score.evidenceBeforeRestart, true);
    assert.equal(score.points, 100);
    assert.match(
      scoreLines(score).join('\n'),
      /Score: 100\/100 \(scenario seed, time factor 0.05\)\nTime to contain \(DNS in sync\): 2m/,
    );
  });

  it('counts refused and failed actions as mistakes, and evidence after the first OOMKill as too late', () => {
    const score = drillScore([
      event(0, 'drill.started', { scenario: 'payments-leak', timeFactor: 1 }),
      event(60, 'action.denied'),
      event(120, 'action.expired'),
      event(130, 'drill.fault', { fault: 'route53-throttling' }),
      event(200, 'drill.oom', { oomAt: new Date(T0 + 150_000).toISOString() }),
      event(180, 'evidence.captured'),
      event(2400, 'traffic.in_sync'),
    ]);
    assert.ok(score);
    assert.deepEqual(
      score.mistakes.map((m) => m.kind),
      ['action.denied', 'action.expired'],
    );
    assert.equal(
      score.evidenceBeforeRestart,
      false,
      'the OOMKill happened at 150 s, before the dump at 180 s',
    );
    assert.equal(score.oomKills, 1);
    assert.deepEqual(score.faults, ['route53-throttling']);
    // Contained after 40 minutes: no points for it; evidence too late; no ledger; 20 - 2 x 5.
    assert.equal(score.points, 10);
    assert.match(scoreLines(score).join('\n'), /Mistakes: action.denied, action.expired/);
  });
});
