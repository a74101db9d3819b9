// ResponseUrls: a response_url is used only while Slack takes it (five uses within thirty minutes).
import assert from 'node:assert/strict';
import type { Chat, Message } from '../../../../src/chat/chat.ts';
import { reply, RESPONSE_URL_USES, ResponseUrls } from '../../../../src/chat/slack/replies.ts';
import { memoryLogger } from '../../../support/bot.ts';

const URL_A = 'https://hooks.slack.com/commands/T0TEAM/1/a';
const MINUTE = 60_000;

describe('ResponseUrls (https://api.slack.com/interactivity/handling#message_responses)', () => {
  it('gives five uses of a url, then none', () => {
    const urls = new ResponseUrls(() => 0);
    urls.issue(URL_A);
    const taken = Array.from({ length: 7 }, () => urls.take(URL_A));
    assert.equal(RESPONSE_URL_USES, 5);
    assert.deepEqual(taken, [true, true, true, true, true, false, false]);
  });

  it('stops using a url before its thirty minutes are up, on the clock it is given', () => {
    let now = 0;
    const urls = new ResponseUrls(() => now);
    urls.issue(URL_A);
    now = 27 * MINUTE;
    assert.equal(urls.take(URL_A), true);
    now = 28 * MINUTE;
    assert.equal(urls.take(URL_A), false, 'a reply may wait on the way: two minutes are kept spare');
  });

  it('never uses a url it was not handed, and forgets old ones', () => {
    let now = 0;
    const urls = new ResponseUrls(() => now);
    assert.equal(urls.take(URL_A), false);
    urls.issue(URL_A);
    now = 31 * MINUTE;
    urls.issue('https://hooks.slack.com/commands/T0TEAM/2/b');
    now = 0;
    assert.equal(urls.take(URL_A), false, 'dropped once it could no longer be used');
  });

  it('falls back to an ephemeral message on a 404 from the url, and to a direct message when that is refused', async () => {
    const sent: string[] = [];
    let ephemeralWorks = true;
    const chat = {
      postEphemeral: async (channel: string, user: string, m: Message) => {
        if (!ephemeralWorks) throw new Error('chat.postEphemeral: channel_not_found');
        sent.push(`ephemeral ${channel} ${user}: ${m.text}`);
      },
      post: async (channel: string, m: Message) => {
        sent.push(`post ${channel}: ${m.text}`);
        return { channel, ts: '1.2' };
      },
    } as unknown as Chat;
    const urls = new ResponseUrls(() => 0);
    urls.issue(URL_A);
    const deps = { urls, chat, log: memoryLogger().log };
    const target = { url: URL_A, channel: 'C0PAY', user: 'U0ALICE' };
    const expired = Object.assign(new Error('Request failed with status code 404'), {
      response: { status: 404 },
    });
    await reply(deps, target, { text: 'one' }, async () => {
      throw expired;
    });
    ephemeralWorks = false;
    await reply(deps, { ...target, url: undefined }, { text: 'two' }, async () => {
      throw new Error('never called without a url');
    });
    assert.deepEqual(sent, ['ephemeral C0PAY U0ALICE: one', 'post U0ALICE: two']);
  });
});
