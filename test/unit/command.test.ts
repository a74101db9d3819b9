// commands/command.ts: a command is built from its name and usage lines, and its words arrive parsed.
import assert from 'node:assert/strict';
import type { ParsedArgs } from '../../commands/args.ts';
import { command, type CommandContext } from '../../commands/command.ts';
import { UsageError } from '../../src/errors.ts';

function contextFor(text: string): CommandContext<Record<string, never>> {
  return {
    inv: {
      command: '/echo',
      text,
      user: { id: 'U1', name: 'alice' },
      channel: 'C1',
      respond: async () => {},
    },
    actor: { type: 'user', id: 'U1', name: 'alice' },
    deps: {},
    incident: null,
    commands: [],
  };
}

describe('command()', () => {
  it('hands run the words and options parsed against its usage, and the usage text', async () => {
    const seen: Array<{ args: ParsedArgs; usage: string }> = [];
    const echo = command<Record<string, never>>('/echo', ['/echo <word>', '/echo help'], {
      summary: 's',
      usageHint: '<word>',
      examples: ['/echo hi'],
      run: async (_ctx, args, usage) => void seen.push({ args, usage }),
    });
    assert.equal(echo.name, '/echo');
    assert.deepEqual(echo.usage, ['/echo <word>', '/echo help']);
    await echo.run(contextFor('hi there n=2'));
    assert.deepEqual(seen[0]?.args.words, ['hi', 'there']);
    assert.equal(seen[0]?.args.options.get('n'), '2');
    assert.equal(seen[0]?.usage, '/echo <word>\n/echo help');
  });

  it('refuses a bad quote before run is called', async () => {
    let ran = false;
    const echo = command<Record<string, never>>('/echo', ['/echo <word>'], {
      summary: 's',
      usageHint: '<word>',
      examples: [],
      run: async () => void (ran = true),
    });
    await assert.rejects(echo.run(contextFor('note="not closed')), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /quote is not closed/);
      return true;
    });
    assert.equal(ran, false);
  });

  it('refuses, when the step is built, a usage line that does not start with the command', () => {
    const def = { summary: 's', usageHint: '', examples: [], run: async () => {} };
    assert.throws(
      () => command('/echo', ['/echo <word>', '/ehco help'], def),
      /\/echo: the usage line "\/ehco help" does not start with \/echo/,
    );
  });
});
