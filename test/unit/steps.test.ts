// The step list is the one place the bot is composed from: every step folder is in it, nothing is declared twice,
// and what the bot dispatches is exactly what the steps declare.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS, STEPS, stepParts } from '../../commands/index.ts';
import type { Step } from '../../commands/step.ts';
import { makeTestBot } from '../support/bot.ts';

const FLOWS = join(import.meta.dirname, '..', '..', 'flows');

describe('runbook steps', () => {
  it('lists every step folder that declares a step, so a new folder cannot be forgotten', async () => {
    const folders = readdirSync(FLOWS).filter((d) => existsSync(join(FLOWS, d, 'step.ts')));
    const listed = new Set<Step>(STEPS);
    for (const folder of folders) {
      const module = (await import(join(FLOWS, folder, 'step.ts'))) as Record<string, unknown>;
      const declared = Object.values(module).filter((v): v is Step => typeof v === 'object' && v !== null);
      assert.ok(declared.length > 0, `flows/${folder}/step.ts exports a step`);
      for (const step of declared) assert.ok(listed.has(step), `${step.name} (flows/${folder}) is in STEPS`);
    }
  });

  it('gives every folder with a slash command a step that declares it', () => {
    const withCommand = readdirSync(FLOWS).filter((d) => existsSync(join(FLOWS, d, 'command.ts')));
    for (const folder of withCommand)
      assert.ok(existsSync(join(FLOWS, folder, 'step.ts')), `flows/${folder}/step.ts`);
  });

  it('refuses a command or a button declared by two steps', () => {
    const run = async () => {};
    const spec = { name: '/twice', summary: 's', usageHint: '', usage: [], examples: [], run };
    assert.throws(
      () =>
        stepParts([
          { name: 'a', commands: [spec] },
          { name: 'b', commands: [spec] },
        ]),
      /\/twice is declared by two steps/,
    );
    assert.throws(
      () =>
        stepParts([
          { name: 'a', buttons: { press: run } },
          { name: 'b', buttons: { press: run } },
        ]),
      /button press is declared by two steps \(the second is b\)/,
    );
  });

  it('dispatches exactly the commands, buttons and reactions the steps declare', () => {
    const parts = stepParts();
    assert.deepEqual(
      parts.commands.map((c) => c.name),
      COMMANDS.map((c) => c.name),
    );
    const buttons = STEPS.flatMap((s) => Object.keys(s.buttons ?? {}));
    assert.deepEqual([...parts.buttons.keys()].sort(), buttons.sort());
    assert.ok(buttons.length >= 3, `approve, deny and debug-container at least: ${buttons.join(', ')}`);
    assert.equal(parts.reactions.length, STEPS.flatMap((s) => s.reactions ?? []).length);
  });

  it('lists every declared command in /incident help', async () => {
    const t = makeTestBot();
    try {
      const replies = await t.command('alice', '/incident', 'help');
      const help = JSON.stringify(replies);
      for (const c of COMMANDS) assert.ok(help.includes(c.name), `${c.name} in help`);
    } finally {
      await t.bot.stop();
    }
  });
});
