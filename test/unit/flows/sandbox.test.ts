// Views of a sandbox (pure): long progress keeps its failures, the escalation says what state still holds.
import assert from 'node:assert/strict';
import { escalationMessage, progressMessage } from '../../../flows/sandbox/blocks.ts';
import { applyProgress, newProgress, type Progress, type SandboxRecord } from '../../../src/sandbox.ts';
import { textOf } from '../../support/bot.ts';

describe('sandbox views', () => {
  it('cuts successes, never failures, from a long progress message, and shows errors before warnings', () => {
    let progress: Progress = newProgress('apply');
    progress = applyProgress(progress, {
      type: 'errored',
      address: 'aws_db.first',
      action: 'create',
      elapsedSeconds: 1,
    });
    for (let i = 0; i < 60; i++) {
      progress = applyProgress(progress, {
        type: 'complete',
        address: `aws_x.n[${i}]`,
        action: 'create',
        elapsedSeconds: 0,
      });
    }
    progress = applyProgress(progress, { type: 'start', address: 'aws_lb.slow', action: 'create' });
    for (let i = 0; i < 8; i++) {
      progress = applyProgress(progress, {
        type: 'diagnostic',
        severity: 'warning',
        text: `deprecated ${i}`,
      });
    }
    progress = applyProgress(progress, { type: 'diagnostic', severity: 'error', text: 'quota exceeded' });

    const text = textOf(progressMessage('inc-1', progress, 'failed'));

    assert.match(text, /✗ aws_db\.first: create FAILED/);
    assert.match(text, /… aws_lb\.slow: create/);
    assert.match(text, /✓ aws_x\.n\[59\]: create/);
    assert.doesNotMatch(text, /aws_x\.n\[0\]:/);
    assert.match(text, /… 32 other line\(s\) not shown/);
    assert.match(text, /Error: quota exceeded/);
  });

  it('escalates with what Terraform state still holds, not a guess', () => {
    const record = {
      incident: 'INC-1',
      service: 'payments',
      workspace: 'inc-1',
      destroyAttempts: 1,
      remaining: 3,
      nextRetryAt: '2026-12-03T12:00:00Z',
    } as SandboxRecord;
    const text = textOf(escalationMessage(record, ['Error: denied']));
    assert.match(
      text,
      /could not be destroyed \(attempt 1\)\. Terraform's state still holds 3 resource\(s\)/,
    );
  });
});
