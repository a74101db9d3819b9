// SlackBudget: per-method token buckets from Slack's tiers, lanes, coalesced edits, Retry-After per method.
import assert from 'node:assert/strict';
import { SlackBudget, type Call } from '../../../../src/chat/slack/budget.ts';
import { eventually } from '../../../support/slack-app.ts';

/** A send that finishes when the test says so, and records that it started. */
function gate(log: string[], name: string) {
  let release: () => void = () => {};
  const done = new Promise<void>((resolve) => (release = resolve));
  return { send: () => (log.push(name), done), release: () => release() };
}

const rateLimited = (retryAfter: number) =>
  Object.assign(new Error('A rate-limit has been reached'), {
    code: 'slack_webapi_rate_limited_error',
    retryAfter,
  });

describe('SlackBudget (https://docs.slack.dev/apis/web-api/rate-limits)', () => {
  it('sends replies, then posts, then approval-card edits, then progress edits when a slot frees', async () => {
    const budget = new SlackBudget({ maxInFlight: 1 });
    const sent: string[] = [];
    const blocker = gate(sent, 'blocker');
    const first = budget.run({ method: 'users.info', lane: 'reply' }, blocker.send);
    const calls: [Call, string][] = [
      [{ method: 'chat.update', lane: 'progress', coalesce: 'C:1' }, 'progress'],
      [{ method: 'chat.update', lane: 'edit', coalesce: 'C:2' }, 'edit'],
      [{ method: 'chat.postMessage', lane: 'post', channel: 'C' }, 'post'],
      [{ method: 'chat.postEphemeral', lane: 'reply' }, 'reply'],
    ];
    const all = calls.map(([call, name]) => budget.run(call, async () => void sent.push(name)));
    assert.equal(budget.waiting, 4);
    blocker.release();
    await Promise.all([first, ...all]);
    assert.deepEqual(sent, ['blocker', 'reply', 'post', 'edit', 'progress']);
  });

  it('sends only the latest state of a message whose edit is still waiting, and answers every caller', async () => {
    const budget = new SlackBudget({ maxInFlight: 1 });
    const sent: string[] = [];
    const blocker = gate(sent, 'blocker');
    const first = budget.run({ method: 'chat.update', lane: 'edit', coalesce: 'C:9' }, blocker.send);
    const edits = [1, 2, 3, 4, 5].map((n) =>
      budget.run(
        { method: 'chat.update', lane: 'progress', coalesce: 'C:1' },
        async () => void sent.push(`state ${n}`),
      ),
    );
    assert.equal(budget.waiting, 1);
    blocker.release();
    await Promise.all([first, ...edits]);
    assert.deepEqual(sent, ['blocker', 'state 5']);
  });

  it('starts no more than a tier allows at once: chat.update (Tier 3, 50/min) bursts 10, then refills', async () => {
    // A minute of 600 ms: the burst is a fifth of the tier, the rest refills at 55% of it.
    const budget = new SlackBudget({ timeScale: 0.01, maxInFlight: 100 });
    const sent: number[] = [];
    const all = Array.from({ length: 20 }, (_, i) =>
      budget.run(
        { method: 'chat.update', lane: 'progress', coalesce: `C:${i}` },
        async () => void sent.push(i),
      ),
    );
    assert.equal(sent.length, 10, 'the burst went out at once');
    assert.equal(budget.waiting, 10);
    await Promise.all(all);
    assert.equal(sent.length, 20, 'the rest followed as the bucket refilled');
  });

  it('a 429 holds back its own method for Retry-After; other methods go meanwhile; then it is sent again', async () => {
    const budget = new SlackBudget({ retries: 2, timeScale: 0.1 });
    const sent: string[] = [];
    let refusals = 0;
    const update = budget.run({ method: 'chat.update', lane: 'edit', coalesce: 'C:1' }, async () => {
      sent.push('update');
      if (refusals++ === 0) throw rateLimited(1);
    });
    await eventually(() => assert.equal(refusals, 1));
    await new Promise((resolve) => setImmediate(resolve));
    await budget.run(
      { method: 'chat.postMessage', lane: 'post', channel: 'C' },
      async () => void sent.push('post'),
    );
    const another = budget.run({ method: 'chat.update', lane: 'edit', coalesce: 'C:2' }, async () => {
      sent.push('update 2');
    });
    assert.deepEqual(sent, ['update', 'post'], 'chat.update waits; chat.postMessage did not');
    await Promise.all([update, another]);
    assert.deepEqual(sent, ['update', 'post', 'update', 'update 2']);
  });

  it('fails "ratelimited" after its retries, with the client error', async () => {
    const budget = new SlackBudget({ retries: 0 });
    await assert.rejects(
      budget.run({ method: 'pins.add', lane: 'post' }, async () => {
        throw rateLimited(1);
      }),
      (err: Error & { code?: string }) => err.code === 'slack_webapi_rate_limited_error',
    );
  });
});
