// What leaves for chat: the fallback text escaped like blocks, invisible controls stripped, secrets scrubbed.
import assert from 'node:assert/strict';
import { escapeFallback, outgoingMessage, stripInvisible } from '../../src/chat/redacting.ts';
import { createRedactor } from '../../src/redact.ts';

describe('outgoing messages', () => {
  it('escapes broadcasts, links and stray entities in the fallback, keeping our own mentions', () => {
    assert.equal(
      escapeFallback('<!channel> see <https://evil|docs> & ask <@U0BOB> in <#C0PAY> a &lt; b'),
      '&lt;!channel&gt; see &lt;https://evil|docs&gt; &amp; ask <@U0BOB> in <#C0PAY> a &lt; b',
    );
  });

  it('keeps only a leading <!here> of our own', () => {
    assert.equal(
      escapeFallback('<!here> Sandbox x could not be destroyed'),
      '<!here> Sandbox x could not be destroyed',
    );
    assert.equal(escapeFallback('INC-1 title <!here> x'), 'INC-1 title &lt;!here&gt; x');
  });

  it('strips bidi overrides and zero-width characters', () => {
    assert.equal(stripInvisible('ab\u202Ecd\u2066e\u200Bf\uFEFFg\u200Dh'), 'abcdefgh');
  });

  it('redacts and cleans text and every block string', () => {
    const out = outgoingMessage(createRedactor(), {
      text: 'token xoxb-123456789012-abcdef <!here>',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x\u202Ey redis://:pw123456@h:1' } }],
    });
    assert.equal(out.text, 'token [redacted] &lt;!here&gt;');
    assert.deepEqual(out.blocks, [
      { type: 'section', text: { type: 'mrkdwn', text: 'xy redis://:[redacted]@h:1' } },
    ]);
  });
});
