import assert from 'node:assert/strict';
import { parseArgs } from '../../commands/args.ts';
import { atMostService, listOr, pickSubcommand } from '../../commands/subcommands.ts';
import { UsageError } from '../../src/errors.ts';

const usage = '/thing up [service]\n/thing down [service]';
const NAMES = ['up', 'down', 'status'] as const;

describe('subcommands', () => {
  it('lists choices as people write them', () => {
    assert.equal(listOr(['a']), 'a');
    assert.equal(listOr(['a', 'b']), 'a or b');
    assert.equal(listOr(['a', 'b', 'c']), 'a, b or c');
  });

  it('picks the subcommand and the words after it', () => {
    assert.deepEqual(pickSubcommand(parseArgs('down payments', usage), NAMES, usage), {
      sub: 'down',
      rest: ['payments'],
    });
  });

  it('maps an alias to its subcommand without listing it', () => {
    const picked = pickSubcommand(parseArgs('severity 2', usage), ['sev', 'help'], usage, {
      severity: 'sev',
    });
    assert.deepEqual(picked, { sub: 'sev', rest: ['2'] });
    assert.throws(
      () => pickSubcommand(parseArgs('nope', usage), ['sev', 'help'], usage, { severity: 'sev' }),
      /use sev or help\.$/,
    );
  });

  it('refuses a missing subcommand with the choices and the usage', () => {
    assert.throws(
      () => pickSubcommand(parseArgs('', usage), NAMES, usage),
      (e: unknown) =>
        e instanceof UsageError && e.message === 'Say what to do: up, down or status.' && e.usage === usage,
    );
  });

  it('refuses an unknown subcommand, quoting it safely', () => {
    assert.throws(
      () => pickSubcommand(parseArgs('launch\u0007', usage), NAMES, usage),
      /^UsageError: Unknown subcommand "launch\?"; use up, down or status\.$/,
    );
  });

  it('takes at most one service word and names what may follow', () => {
    assert.equal(atMostService('/thing', 'up', [], usage), undefined);
    assert.equal(atMostService('/thing', 'up', ['payments'], usage), 'payments');
    assert.throws(
      () => atMostService('/thing', 'up', ['payments', 'now', 'please'], usage, ', then steps='),
      /Unexpected "now please"; \/thing up takes at most a service name, then steps=\.$/,
    );
  });
});
