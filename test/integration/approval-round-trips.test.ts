// The store round trips between an Approve click and the write it approves: each one is latency on a busy bot.
import assert from 'node:assert/strict';
import type { ActionHandler } from '../../flows/approval/approval.ts';
import { APPROVE_ACTION } from '../../src/chat/blocks/approval.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { CHANNEL, makeTestBot, USERS, type TestBot } from '../support/bot.ts';

/** A memory store that logs every call, in order. */
class LoggingStore extends MemoryStore {
  calls: string[] = [];
  override async get(key: string) {
    this.calls.push(`get ${key}`);
    return super.get(key);
  }
  override async compareAndSet(key: string, expected: string | null, next: string | null) {
    this.calls.push(`cas ${key}`);
    return super.compareAndSet(key, expected, next);
  }
  override async appendChained(
    stream: string,
    headKey: string,
    expected: string | null,
    head: string,
    fields: Record<string, string>,
  ) {
    this.calls.push(`append ${stream}`);
    return super.appendChained(stream, headKey, expected, head, fields);
  }
}

describe('Approve click to the write: store round trips', () => {
  let t: TestBot;
  let store: LoggingStore;
  let before: string[] | undefined;
  let timelineAtWrite: string[] = [];

  beforeEach(async () => {
    store = new LoggingStore();
    t = makeTestBot({ store });
    before = undefined;
    const handler: ActionHandler<{ to: number }> = {
      kind: 'test.write',
      describe: () => ({ fields: [] }),
      async execute() {
        before = [...store.calls];
        timelineAtWrite = (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
        return { ok: true, summary: 'written' };
      },
      recheck: async () => ({ ok: true, summary: 'written' }),
    };
    t.bot.deps.approvals.register(handler);
    await t.command('alice', '/incident', 'declare payments');
  });

  afterEach(async () => {
    await t.bot.stop();
  });

  it('reads the action once and neither the timeline head nor the incident this process just wrote, and records both moves before the write', async () => {
    const incident = await t.bot.deps.incidents.active(CHANNEL);
    assert.ok(incident);
    const action = await t.bot.deps.approvals.request({
      kind: 'test.write',
      incident,
      step: 'C',
      summary: 'Write it',
      basis: 1,
      change: { to: 2 },
      requester: { type: 'user', ...USERS.alice },
    });
    await t.bot.idle();
    store.calls = [];

    await t.click('bob', APPROVE_ACTION, action.id);

    assert.ok(before, 'the handler executed');
    const reads = (key: string) => before?.filter((c) => c === `get ${key}`).length;
    assert.equal(reads(`action:${action.id}`), 1, before.join('\n'));
    assert.equal(reads('{timeline:INC-1}:head'), 0, before.join('\n'));
    assert.equal(reads('incident:INC-1'), 0, before.join('\n'));
    // Still, in this order: approved, then executing, each on the timeline before the write.
    assert.deepEqual(
      before.filter((c) => c.startsWith('cas action:') || c.startsWith('append ')),
      [
        `cas action:${action.id}`,
        'append timeline:INC-1',
        `cas action:${action.id}`,
        'append timeline:INC-1',
      ],
    );
    assert.deepEqual(timelineAtWrite.slice(-3), ['action.requested', 'action.approved', 'action.executing']);
    assert.equal((await t.bot.deps.approvals.get(action.id))?.state, 'succeeded');
  });

  it('still approves when the action changed after the click read it (the compare-and-set re-reads)', async () => {
    const incident = await t.bot.deps.incidents.active(CHANNEL);
    assert.ok(incident);
    const action = await t.bot.deps.approvals.request({
      kind: 'test.write',
      incident,
      step: 'C',
      summary: 'Write it',
      basis: 1,
      change: { to: 2 },
      requester: { type: 'user', ...USERS.alice },
    });
    await t.bot.idle();
    // Another writer edits the stored action (a progress note) between the click's read and its write.
    const original = store.compareAndSet.bind(store);
    let moved = false;
    store.compareAndSet = async (key, expected, next) => {
      if (!moved && key === `action:${action.id}`) {
        moved = true;
        await t.bot.deps.approvals.annotate(action.id, 'a note from elsewhere');
      }
      return original(key, expected, next);
    };

    await t.click('bob', APPROVE_ACTION, action.id);

    const done = await t.bot.deps.approvals.get(action.id);
    assert.equal(done?.state, 'succeeded');
    assert.deepEqual(
      done?.history.map((h) => h.state),
      ['requested', 'approved', 'executing', 'succeeded'],
    );
    assert.ok(
      done?.progress.some((p) => p.text === 'a note from elsewhere'),
      'the other write was kept',
    );
  });
});
