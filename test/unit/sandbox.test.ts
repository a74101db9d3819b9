// The sandbox domain (pure): workspace names, inputs read off the timeline, progress folding, retry backoff.
import assert from 'node:assert/strict';
import {
  applyProgress,
  imageFromSnapshot,
  newProgress,
  retryDelayMs,
  sandboxInputs,
  shouldEscalate,
  workspaceName,
} from '../../src/sandbox.ts';
import { SYSTEM, type TimelineEvent } from '../../src/timeline.ts';

function event(kind: string, data: Record<string, unknown>): TimelineEvent {
  return {
    at: '2026-11-26T10:00:00Z',
    incident: 'INC-7',
    step: 'L',
    kind,
    actor: SYSTEM,
    summary: kind,
    data,
    prev: null,
    hash: 'h',
  };
}

const A = 'registry.example.com/payments@sha256:aaaa';
const B = 'registry.example.com/payments@sha256:bbbb';

describe('sandbox domain', () => {
  it('names the workspace after the incident number', () => {
    assert.equal(workspaceName('inc-', 'INC-7'), 'inc-7');
    assert.equal(workspaceName('payments-', 'INC-123'), 'payments-123');
    assert.equal(workspaceName('', 'Odd Id!'), 'odd-id-');
  });

  it('reads the running image from whichever shape the snapshot has, the majority winning', () => {
    assert.equal(imageFromSnapshot({ imageDigest: A }), A);
    assert.equal(
      imageFromSnapshot({ pods: [{ imageDigest: B }, { imageDigest: A }, { imageDigest: A }] }),
      A,
    );
    assert.equal(imageFromSnapshot({ pods: [{ containers: [{ imageDigest: B }, { name: 'sidecar' }] }] }), B);
    assert.equal(imageFromSnapshot({ pods: 'not a list', imageDigest: 42 }), undefined);
    assert.equal(
      imageFromSnapshot({ imageDigest: 'has spaces; rm -rf /' }),
      undefined,
      'only image-like text',
    );
  });

  it('takes the latest snapshot image and every captured artifact once, in order', () => {
    const inputs = sandboxInputs([
      event('telemetry.snapshot', { imageDigest: B }),
      event('evidence.captured', { uri: 's3://e/1' }),
      event('telemetry.snapshot', { pods: [{ imageDigest: A }] }),
      event('evidence.captured', { uri: 's3://e/2' }),
      event('evidence.captured', { uri: 's3://e/1' }),
      event('telemetry.snapshot', { pods: [] }),
      event('evidence.failed', { uri: 's3://e/3' }),
    ]);
    assert.deepEqual(inputs, { image: A, evidence: ['s3://e/1', 's3://e/2'] });
    assert.deepEqual(sandboxInputs([]), { evidence: [] });
  });

  it('folds progress events into counts and per-resource lines', () => {
    let p = newProgress('apply');
    for (const e of [
      { type: 'stage', text: 'apply' },
      { type: 'planned', address: 'a', action: 'create' },
      { type: 'planned', address: 'b', action: 'create' },
      { type: 'planned', address: 'c', action: 'noop' },
      { type: 'plan', add: 2, change: 0, remove: 0 },
      { type: 'start', address: 'a', action: 'create' },
      { type: 'complete', address: 'a', action: 'create', elapsedSeconds: 3 },
      { type: 'start', address: 'b', action: 'create' },
      { type: 'errored', address: 'b', action: 'create', elapsedSeconds: 1 },
      { type: 'diagnostic', severity: 'error', text: 'quota exceeded' },
    ] as const) {
      p = applyProgress(p, e);
    }
    assert.deepEqual(
      { stage: p.stage, planned: p.planned, done: p.done, failed: p.failed, notes: p.notes },
      { stage: 'apply', planned: 2, done: 1, failed: 1, notes: ['Error: quota exceeded'] },
    );
    assert.deepEqual(p.resources, [
      { address: 'a', action: 'create', state: 'done', elapsedSeconds: 3 },
      { address: 'b', action: 'create', state: 'failed', elapsedSeconds: 1 },
    ]);
  });

  it('backs off failed teardowns up to 30 minutes and escalates on the 1st, 4th, 8th… attempt', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 10].map((n) => retryDelayMs(120_000, n)),
      [120_000, 240_000, 480_000, 960_000, 1_800_000],
    );
    assert.deepEqual([1, 2, 3, 4, 5, 8].map(shouldEscalate), [true, false, false, true, false, true]);
  });
});
