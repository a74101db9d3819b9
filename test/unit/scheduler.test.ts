// Durable timers: a job outlives the scheduler that set it, runs once across replicas, and periodic work keeps time.
import assert from 'node:assert/strict';
import { Scheduler } from '../../src/scheduler.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { Tasks } from '../../src/tasks.ts';
import { memoryLogger } from '../support/bot.ts';

function replica(store: MemoryStore, clock: { now: number }) {
  const { log, lines } = memoryLogger();
  const tasks = new Tasks(log);
  const scheduler = new Scheduler({ store, tasks, log, now: () => clock.now });
  return { scheduler, tasks, lines };
}

describe('Scheduler', () => {
  it('runs a job only once it is due, with the member it was scheduled for', async () => {
    const clock = { now: 1_000 };
    const store = new MemoryStore({ now: () => clock.now });
    const { scheduler, tasks } = replica(store, clock);
    const ran: string[] = [];
    scheduler.handle('reminder', async (member) => void ran.push(member));
    await scheduler.at('reminder', 'INC-1', 61_000);

    await scheduler.tick();
    await tasks.idle();
    assert.deepEqual(ran, [], 'not due yet');

    clock.now = 61_000;
    await scheduler.tick();
    await tasks.idle();
    assert.deepEqual(ran, ['INC-1']);

    clock.now = 120_000;
    await scheduler.tick();
    await tasks.idle();
    assert.deepEqual(ran, ['INC-1'], 'a job runs once, not on every tick after it is due');
  });

  it('keeps a job across a restart: a new scheduler on the same store runs what the old one set', async () => {
    const clock = { now: 0 };
    const store = new MemoryStore({ now: () => clock.now });
    const before = replica(store, clock);
    await before.scheduler.at('expire', 'action-7', 30_000);
    before.scheduler.stop();

    const after = replica(store, clock);
    const ran: string[] = [];
    after.scheduler.handle('expire', async (member) => void ran.push(member));
    clock.now = 30_000;
    await after.scheduler.tick();
    await after.tasks.idle();
    assert.deepEqual(ran, ['action-7']);
  });

  it('gives a due job to exactly one of several replicas sharing the store', async () => {
    const clock = { now: 0 };
    const store = new MemoryStore({ now: () => clock.now });
    const replicas = [replica(store, clock), replica(store, clock), replica(store, clock)];
    const ran: string[] = [];
    for (const [i, r] of replicas.entries())
      r.scheduler.handle('page', async (member) => void ran.push(`${i}:${member}`));
    for (let n = 0; n < 20; n++) await replicas[0]!.scheduler.at('page', `job-${n}`, 5_000);

    clock.now = 5_000;
    await Promise.all(replicas.map((r) => r.scheduler.tick()));
    await Promise.all(replicas.map((r) => r.tasks.idle()));
    const members = ran.map((entry) => entry.split(':')[1]).sort();
    assert.equal(ran.length, 20, `each job ran once: ${ran.join(', ')}`);
    assert.deepEqual(members, [...new Set(members)]);
  });

  it('never runs a cancelled job', async () => {
    const clock = { now: 0 };
    const store = new MemoryStore({ now: () => clock.now });
    const { scheduler, tasks } = replica(store, clock);
    const ran: string[] = [];
    scheduler.handle('reminder', async (member) => void ran.push(member));
    await scheduler.at('reminder', 'INC-2', 10_000);
    await scheduler.cancel('reminder', 'INC-2');
    clock.now = 10_000;
    await scheduler.tick();
    await tasks.idle();
    assert.deepEqual(ran, []);
  });

  it('runs periodic work at once and then every interval of the injected clock', async () => {
    const clock = { now: 0 };
    const store = new MemoryStore({ now: () => clock.now });
    const { scheduler, tasks } = replica(store, clock);
    const at: number[] = [];
    scheduler.every('sweep', 10_000, async () => void at.push(clock.now));
    for (const now of [0, 4_000, 9_999, 10_000, 15_000, 20_000]) {
      clock.now = now;
      await scheduler.tick();
      await tasks.idle();
    }
    assert.deepEqual(at, [0, 10_000, 20_000]);
  });

  it('keeps running other jobs when a handler throws, and logs the failure', async () => {
    const clock = { now: 0 };
    const store = new MemoryStore({ now: () => clock.now });
    const { scheduler, tasks, lines } = replica(store, clock);
    const ran: string[] = [];
    scheduler.handle('bad', async () => {
      throw new Error('handler exploded');
    });
    scheduler.handle('good', async (member) => void ran.push(member));
    await scheduler.at('bad', 'x', 0);
    await scheduler.at('good', 'y', 0);
    await scheduler.tick();
    await tasks.idle();
    assert.deepEqual(ran, ['y']);
    assert.ok(
      lines.some((line) => line.includes('handler exploded')),
      'the failure is logged',
    );
  });
});
