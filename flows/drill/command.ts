// /drill start|inject|status|stop: rehearse an incident in this channel against a fresh simulated cloud.
import { UsageError } from '../../src/errors.ts';
import { scenarioNames } from '../../src/startup.ts';
import { allowOnly, parseArgs, quoteInput } from '../../commands/args.ts';
import type { CommandSpec } from '../../commands/command.ts';
import { pickSubcommand } from '../../commands/subcommands.ts';
import { drillStatus, injectFault, startDrill, stopDrill } from './drill.ts';

const USAGE = [
  '/drill start [scenario] [factor=<0..1, default 1>]',
  '/drill inject <fault>',
  '/drill status',
  '/drill stop',
];
const usage = USAGE.join('\n');

/** factor=: 1 runs the story at real speed (a game day); 0.05 runs five story minutes in 15 s. */
function parseFactor(text: string | undefined): number {
  if (text === undefined) return 1;
  const factor = Number(text);
  if (!(factor > 0 && factor <= 1)) {
    throw new UsageError(
      `factor=${quoteInput(text)} is not a number in (0, 1]; write factor=1 for real speed or factor=0.05 to compress.`,
      usage,
    );
  }
  return factor;
}

export const drillCommand: CommandSpec = {
  name: '/drill',
  summary:
    'Rehearse an incident in this channel against a simulated cloud (never real endpoints), with a score',
  usageHint: 'start [scenario] | inject <fault> | status | stop',
  usage: USAGE,
  examples: ['/drill start', '/drill start payments-leak factor=0.1', '/drill inject oom', '/drill stop'],
  async run(ctx) {
    const args = parseArgs(ctx.inv.text, usage);
    const { sub, rest } = pickSubcommand(args, ['start', 'inject', 'status', 'stop'], usage);
    const [word, ...extra] = rest;
    const channel = ctx.inv.channel;
    if (sub === 'start') {
      allowOnly(args, ['factor'], usage);
      if (extra.length > 0)
        throw new UsageError(
          `Unexpected ${quoteInput(extra.join(' '))}; /drill start takes one scenario.`,
          usage,
        );
      const scenario = word ?? 'seed';
      if (!scenarioNames().includes(scenario)) {
        throw new UsageError(
          `There is no drill scenario ${quoteInput(scenario)}; the scenarios are: ${scenarioNames().join(', ')}.`,
          usage,
        );
      }
      const drill = await startDrill(ctx.deps, {
        channel,
        actor: ctx.actor,
        scenario,
        timeFactor: parseFactor(args.options.get('factor')),
        incident: ctx.incident,
      });
      return ctx.inv.respond({
        text: `Drill ${drill.id} is running here as ${drill.incidentId ?? 'a drill incident'} on service ${drill.service}.`,
      });
    }
    allowOnly(args, [], usage);
    if (sub === 'inject') {
      if (word === undefined || extra.length > 0)
        throw new UsageError('Name one fault: `/drill inject <fault>`, e.g. `/drill inject oom`.', usage);
      const said = await injectFault(ctx.deps, { channel, actor: ctx.actor, fault: word, usage });
      return ctx.inv.respond({ text: said });
    }
    if (word !== undefined)
      throw new UsageError(
        `Unexpected ${quoteInput([word, ...extra].join(' '))}; /drill ${sub} takes nothing more.`,
        usage,
      );
    if (sub === 'status') return ctx.inv.respond(await drillStatus(ctx.deps, channel, usage));
    await stopDrill(ctx.deps, { channel, actor: ctx.actor, usage });
    return ctx.inv.respond({ text: 'Drill stopped; the score is in the channel.' });
  },
};
