// /ledger: audit the ledger between legacy and cloud, lock/unlock the cloud writers, reconcile (step O).
import {
  ledgerFor,
  noLedger,
  requestLock,
  requestReconcile,
  requestUnlock,
  runLedgerAudit,
} from './ledger.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import { UsageError } from '../../src/errors.ts';
import { parseSince } from '../../src/ledger.ts';
import { allowOnly } from '../../commands/args.ts';
import type { LedgerCaps } from './caps.ts';
import { command, type CommandContext } from '../../commands/command.ts';
import { atMostService, pickSubcommand } from '../../commands/subcommands.ts';
import { incidentService } from '../../commands/context.ts';

const USAGE = [
  '/ledger audit [service] [since=<ISO time or 30m/2h>]',
  '/ledger lock [service]',
  '/ledger unlock [service]',
  '/ledger reconcile [service] [since=<ISO time or 30m/2h>]',
];
const usage = USAGE.join('\n');

export const ledgerCommand = command<LedgerCaps>('/ledger', USAGE, {
  summary: 'Audit the ledger between legacy and cloud; lock cloud writers and reconcile after approval',
  usageHint: 'audit|lock|unlock|reconcile [service] [since=<ISO time or 30m/2h>]',
  examples: [
    '/ledger audit',
    '/ledger audit payments since=6h',
    '/ledger lock',
    '/ledger reconcile since=2026-05-20T09:30Z',
  ],
  async run(ctx, args) {
    const { sub, rest } = pickSubcommand(args, ['audit', 'lock', 'unlock', 'reconcile'], usage);
    const serviceWord = atMostService(
      '/ledger',
      sub,
      rest,
      usage,
      sub === 'lock' || sub === 'unlock' ? '' : ', then since=',
    );
    switch (sub) {
      case 'audit':
        allowOnly(args, ['since'], usage);
        return audit(ctx, serviceWord, args.options.get('since'));
      case 'reconcile':
        allowOnly(args, ['since'], usage);
        return reconcile(ctx, serviceWord, args.options.get('since'));
      case 'lock':
      case 'unlock':
        allowOnly(args, [], usage);
        return lockOrUnlock(ctx, sub, serviceWord);
    }
  },
});

/** Everything checked before any database is touched: incident, service, ledger config, since=. */
function prepare(
  ctx: CommandContext<LedgerCaps>,
  serviceWord: string | undefined,
  sinceText: string | undefined,
) {
  const { incident, service } = incidentService(ctx, serviceWord, usage);
  const section = ctx.deps.config.services[service]?.ledger;
  if (!section) throw noLedger(service, usage);
  const now = ctx.deps.now();
  let since: Date;
  if (sinceText === undefined) {
    since = new Date(now.getTime() - section.window);
  } else {
    const parsed = parseSince(sinceText, now);
    if ('error' in parsed) throw new UsageError(parsed.error, usage);
    since = parsed.since;
  }
  // The typed arguments are checked before the connections, so a bad since= is named even when a URL is missing.
  return { incident, service, ledger: ledgerFor(ctx.deps, service, usage), section, since };
}

async function audit(
  ctx: CommandContext<LedgerCaps>,
  serviceWord: string | undefined,
  sinceText: string | undefined,
) {
  const { incident, service, ledger, section, since } = prepare(ctx, serviceWord, sinceText);
  const run = await runLedgerAudit(ctx.deps, {
    incident,
    service,
    ledger,
    since,
    actor: ctx.actor,
    keyName: section.key,
    maxDifferences: section.maxDifferences,
    onStarted: () =>
      ctx.inv.respond(
        notice(
          `Auditing ${service}'s ledger since ${since.toISOString()}; progress and the summary follow in the channel.`,
        ),
      ),
  });
  if (!run.ok) await ctx.inv.respond(notice(`The audit FAILED: ${run.error}`));
}

async function reconcile(
  ctx: CommandContext<LedgerCaps>,
  serviceWord: string | undefined,
  sinceText: string | undefined,
) {
  const { incident, service, ledger, since } = prepare(ctx, serviceWord, sinceText);
  const text = await requestReconcile(ctx.deps, {
    incident,
    service,
    ledger,
    since,
    actor: ctx.actor,
    usage,
  });
  await ctx.inv.respond(notice(text));
}

async function lockOrUnlock(
  ctx: CommandContext<LedgerCaps>,
  sub: 'lock' | 'unlock',
  serviceWord: string | undefined,
) {
  const { incident, service, ledger, section } = prepare(ctx, serviceWord, undefined);
  if (!section.lock) {
    throw new UsageError(
      `${sub} needs services.${service}.ledger.lock.role: the database role the cloud services write the ledger with.`,
      usage,
    );
  }
  const input = { incident, service, ledger, actor: ctx.actor, usage };
  const text = sub === 'lock' ? await requestLock(ctx.deps, input) : await requestUnlock(ctx.deps, input);
  await ctx.inv.respond(notice(text));
}
