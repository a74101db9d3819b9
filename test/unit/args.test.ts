// Slash-command argument parsing: words, key=value, quotes, limits.
import assert from 'node:assert/strict';
import { allowOnly, parseArgs, quoteInput, tokenize } from '../../commands/args.ts';
import { UsageError } from '../../src/errors.ts';

describe('command arguments', () => {
  it('splits words and key=value pairs, with quoted values', () => {
    const args = parseArgs('payments legacy=100 break-glass="leads unreachable, payments down"', 'usage');
    assert.deepEqual(args.words, ['payments']);
    assert.equal(args.options.get('legacy'), '100');
    assert.equal(args.options.get('break-glass'), 'leads unreachable, payments down');
  });

  it('accepts the curly quotes Slack clients produce', () => {
    assert.deepEqual(tokenize('break-glass=\u201cno leads\u201d'), ['break-glass=no leads']);
  });

  it('refuses an unclosed quote, a repeated key and very long input', () => {
    assert.throws(
      () => parseArgs('reason="oops', 'u'),
      (e: unknown) => e instanceof UsageError && /quote is not closed/.test(e.message),
    );
    assert.throws(() => parseArgs('legacy=1 legacy=2', 'u'), /legacy= is given twice/);
    assert.throws(() => parseArgs('x'.repeat(2001), 'u'), /commands take at most 2000/);
  });

  it('names the known options when given an unknown one', () => {
    const args = parseArgs('legacyy=100', 'u');
    assert.throws(
      () => allowOnly(args, ['legacy', 'break-glass'], 'u'),
      /Unknown option legacyy=\. Known options: legacy=, break-glass=\./,
    );
  });

  it('quotes user input safely for error messages', () => {
    assert.equal(quoteInput('pay\u0000ments'), '"pay?ments"');
    assert.equal(quoteInput('a'.repeat(100)).length, 62);
  });
});
