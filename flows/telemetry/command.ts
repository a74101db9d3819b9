// /telemetry: snapshot the failing workload, keep evidence from its worst pods, quarantine some (approved), release.
import { releaseQuarantine } from './release.ts';
import { requestReturn } from './release-plan.ts';
import { runTelemetry } from './snapshot.ts';
import { kubernetesSection } from './workload.ts';
import { notice } from '../../src/chat/blocks/common.ts';
import { UsageError } from '../../src/errors.ts';
import { allowOnly, quoteInput } from '../../commands/args.ts';
import type { TelemetryCaps } from './caps.ts';
import { command } from '../../commands/command.ts';
import { incidentService } from '../../commands/context.ts';

const USAGE = [
  '/telemetry [service] [pods=<n>] [quarantine=<n>]',
  '/telemetry release [service] [mode=return|delete]',
];
const usage = USAGE.join('\n');
const MAX_PODS = 10;

function count(key: string, text: string, max: number, hint: string): number {
  if (!/^[0-9]{1,3}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(
      `${key}=${quoteInput(text)} is not a number of pods; write ${key}=1 to ${key}=${max}. ${hint}`,
      usage,
    );
  }
  return Number(text);
}

export const telemetryCommand = command<TelemetryCaps>('/telemetry', USAGE, {
  summary: 'Snapshot the failing pods, keep heap dumps and thread traces as evidence, quarantine pods',
  usageHint: '[service] [pods=<n>] [quarantine=<n>] | release [mode=return|delete]',
  examples: ['/telemetry', '/telemetry pods=3', '/telemetry quarantine=1', '/telemetry release'],
  async run(ctx, args) {
    const words = [...args.words];
    const release = words[0] === 'release' || words[1] === 'release';
    if (release) words.splice(words.indexOf('release'), 1);
    if (words.length > 1) {
      throw new UsageError(
        `Too many words: ${words.map(quoteInput).join(' ')}. Name at most one service; options are key=value.`,
        usage,
      );
    }
    const { incident, service } = incidentService(ctx, words[0], usage);
    if (release) {
      allowOnly(args, ['mode'], usage);
      const cfg = kubernetesSection(ctx.deps, service);
      const modeText = args.options.get('mode');
      if (modeText !== undefined && modeText !== 'return' && modeText !== 'delete') {
        throw new UsageError(
          `mode=${quoteInput(modeText)} is not a release mode: mode=return gives the pods back to their ReplicaSet (a card first when it would then delete a pod), mode=delete deletes them.`,
          usage,
        );
      }
      const mode = modeText ?? cfg.release;
      if (mode === 'return') {
        // The ReplicaSet re-adopts a returned pod and may then delete one: a card says so before anything happens.
        const result = await requestReturn(ctx.deps, { incident, service, actor: ctx.actor });
        await ctx.inv.respond(notice(`${result.summary}${result.card ? '' : '.'}`));
        return;
      }
      const result = await releaseQuarantine(ctx.deps, {
        incident,
        service,
        actor: ctx.actor,
        mode,
        reason: 'command',
      });
      await ctx.inv.respond(notice(`${result.summary}.`));
      return;
    }
    allowOnly(args, ['pods', 'quarantine'], usage);
    // Only the config here: arguments are judged before any cluster is reached.
    const cfg = kubernetesSection(ctx.deps, service);
    const podsText = args.options.get('pods');
    const quarantineText = args.options.get('quarantine');
    const pods =
      podsText === undefined
        ? undefined
        : count('pods', podsText, MAX_PODS, 'The default is the 2 pods closest to their memory limit.');
    const quarantine =
      quarantineText === undefined
        ? undefined
        : count(
            'quarantine',
            quarantineText,
            cfg.maxQuarantine,
            `At most ${cfg.maxQuarantine} pods are isolated at once (kubernetes.maxQuarantine).`,
          );
    if (pods !== undefined && quarantine !== undefined) {
      throw new UsageError(
        'Give pods= or quarantine=, not both: with quarantine=<n> the dumps are taken from the n isolated pods.',
        usage,
      );
    }
    await runTelemetry(ctx.deps, {
      incident,
      service,
      actor: ctx.actor,
      ...(pods !== undefined ? { pods } : {}),
      ...(quarantine !== undefined ? { quarantine } : {}),
      respond: (m) => ctx.inv.respond(m),
    });
  },
});
