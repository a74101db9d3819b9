// The account every Route 53 adapter shares: one request budget, and one queue of changes per hosted zone.
import assert from 'node:assert/strict';
import { Route53Account } from '../../../src/adapters/route53-account.ts';

function clock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

describe('Route 53 account: shared budget and zone queues', () => {
  it('spaces every caller’s requests to 5 per second together, in the order they asked', async () => {
    const c = clock();
    const account = new Route53Account({ now: c.now, sleep: c.sleep });
    const order: number[] = [];
    await Promise.all(Array.from({ length: 11 }, (_, i) => account.take().then(() => order.push(i))));
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(c.now(), 2000, '11 requests: the first at once, then one every 200 ms');
    assert.equal(account.waited, 10);
  });

  it('sends a zone’s next change only after the previous one is INSYNC; other zones do not wait', async () => {
    const account = new Route53Account({ perSecond: Infinity });
    const log: string[] = [];
    let release = () => {};
    const insync = new Promise<void>((resolve) => (release = resolve));
    const waitInSync = async (id: string) => {
      log.push(`wait ${id}`);
      await insync;
      log.push(`insync ${id}`);
    };
    const send = (id: string) => async () => {
      log.push(`send ${id}`);
      return { result: id, changeId: id };
    };
    const first = await account.change('Z1', waitInSync, send('C1'));
    const second = account.change('Z1', waitInSync, send('C2'));
    const other = await account.change('Z2', waitInSync, send('C3'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(log, ['send C1', 'wait C1', 'send C3']);
    release();
    assert.equal(await second, 'C2');
    assert.deepEqual([first, other], ['C1', 'C3']);
    assert.deepEqual(log, ['send C1', 'wait C1', 'send C3', 'insync C1', 'send C2']);

    // A change seen INSYNC elsewhere (a waitInSync poll) frees the zone at once.
    account.inSync('C2');
    await account.change('Z1', waitInSync, send('C4'));
    assert.equal(log.at(-1), 'send C4');
    assert.equal(log.filter((l) => l === 'wait C2').length, 0);
  });
});
