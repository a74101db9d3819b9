// Throttle: bursts collapse into one trailing run, and runs of one key never overlap (edits land in order).
import assert from 'node:assert/strict';
import { isProgressEdit } from '../../src/send-lane.ts';
import { Tasks, Throttle } from '../../src/tasks.ts';
import { memoryLogger } from '../support/bot.ts';
import { eventually } from '../support/slack-app.ts';

describe('Throttle', () => {
  it('collapses calls made before a run starts into one run of the latest work', async () => {
    const tasks = new Tasks(memoryLogger().log);
    const throttle = new Throttle(tasks, 20);
    const ran: number[] = [];
    for (let i = 1; i <= 5; i++) throttle.schedule('card', async () => void ran.push(i));
    await tasks.idle();
    assert.deepEqual(ran, [5]);
    for (let i = 6; i <= 9; i++) throttle.schedule('card', async () => void ran.push(i));
    await tasks.idle();
    assert.deepEqual(ran, [5, 9]);
  });

  it('starts no run of a key while the previous one is in flight, so a slow edit cannot overwrite a newer one', async () => {
    const tasks = new Tasks(memoryLogger().log);
    const throttle = new Throttle(tasks, 0);
    // What "Slack" shows: each edit lands when its request finishes.
    let shown = '';
    let inFlight = 0;
    let maxInFlight = 0;
    let releaseSlow: () => void = () => {};
    const edit = (state: string, slow: boolean) => async () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (slow) await new Promise<void>((resolve) => (releaseSlow = resolve));
      else await new Promise((resolve) => setTimeout(resolve, 1));
      shown = state;
      inFlight -= 1;
    };
    throttle.schedule('card', edit('executing', true)); // e.g. a chat.update waiting out a 429
    await eventually(() => assert.equal(inFlight, 1, 'the slow edit has started'));
    throttle.schedule('card', edit('approved', false));
    throttle.schedule('card', edit('succeeded', false));
    // Give the newer edits every chance to start (they must not): several turns of the event loop and timers.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(inFlight, 1, 'the newer edit waits for the slow one');
    releaseSlow();
    await tasks.idle();
    assert.equal(maxInFlight, 1);
    assert.equal(shown, 'succeeded', 'the last edit to land is the latest state');
  });

  it('keeps going after a failed run: the next call still runs, the failure is logged', async () => {
    const { log, lines } = memoryLogger();
    const tasks = new Tasks(log);
    const throttle = new Throttle(tasks, 0);
    const ran: string[] = [];
    let started = false;
    throttle.schedule('card', async () => {
      started = true;
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw new Error('ratelimited');
    });
    await eventually(() => assert.ok(started, 'the failing run has started'));
    throttle.schedule('card', async () => void ran.push('after'));
    await tasks.idle();
    assert.deepEqual(ran, ['after']);
    assert.ok(lines.some((l) => /background task failed/.test(l) && /ratelimited/.test(l)));
  });
  it('runs its work as a progress edit (the Slack budget sends those last), unless told it is not one', async () => {
    const tasks = new Tasks(memoryLogger().log);
    const throttle = new Throttle(tasks, 0);
    const seen: Record<string, boolean> = {};
    throttle.schedule('progress-card', async () => void (seen.progress = isProgressEdit()));
    throttle.schedule('approval-card', async () => void (seen.approval = isProgressEdit()), {
      progress: false,
    });
    await tasks.idle();
    assert.deepEqual(seen, { progress: true, approval: false });
    assert.equal(isProgressEdit(), false, 'only inside the run');
  });
});

describe('Tasks', () => {
  it('after: idle waits for the window and its work, settled waits only for work already running', async () => {
    const tasks = new Tasks(memoryLogger().log);
    const ran: string[] = [];
    let release: () => void = () => {};
    tasks.run('reply', () =>
      new Promise<void>((resolve) => (release = resolve)).then(() => void ran.push('reply')),
    );
    tasks.after('batch', 50, async () => void ran.push('batch'));
    const settled = tasks.settled();
    release();
    await settled;
    assert.deepEqual(ran, ['reply'], 'settled did not wait for the open window');
    await tasks.idle();
    assert.deepEqual(ran, ['reply', 'batch']);
  });
});
