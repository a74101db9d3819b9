// Step D views: the arm and canary approval cards, the trip and no-data alerts, /breaker status, the canary
// progress card and the /preflight report.
import type { BreakerSettings, Evaluation } from './rules.ts';
import type { TripRecord } from './state.ts';
import { describeEvaluation, percent } from './rules.ts';
import { describeBreaches, describeSpec, formatValue } from './conditions.ts';
import { formatDuration } from '../../src/duration.ts';
import type { Actor } from '../../src/timeline.ts';
import type { Message } from '../../src/chat/chat.ts';
import type { ChangeView } from '../../src/chat/blocks/approval.ts';
import {
  code,
  context,
  divider,
  escapeText,
  fields,
  header,
  mention,
  section,
  utc,
} from '../../src/chat/blocks/kit.ts';

/** What a `breaker.arm` request shows and binds: the source, the queries, the limits, the pre-authorised shift. */
export interface ArmChangeView {
  source: string;
  queries: { memory?: string; errors?: string; minRps?: string };
  /** Every named condition beyond memory and errors: what trips it and its query. */
  conditions?: { name: string; trips: string; query: string; guard?: string }[];
  settings: BreakerSettings;
  preauthorised: { legacyPercent: number; layers: string[]; text: string };
  rearm?: string;
}

function limitsLine(s: BreakerSettings): string {
  if (s.conditions) {
    return `${s.conditions.map(describeSpec).join(' or ')}, ${s.failureLimit} times in a row, evaluated every ${formatDuration(s.intervalMs)} (trips within ~${formatDuration(s.failureLimit * s.intervalMs)})`;
  }
  return `memory > ${percent(s.thresholds.memory)} of limit or 5xx > ${percent(s.thresholds.errors)}, ${s.failureLimit} times in a row, evaluated every ${formatDuration(s.intervalMs)} (trips within ~${formatDuration(s.failureLimit * s.intervalMs)})`;
}

export function armView(change: ArmChangeView): ChangeView {
  const s = change.settings;
  return {
    fields: [
      ['Trips on', limitsLine(s)],
      ['Pre-authorised change', `*${escapeText(change.preauthorised.text)}*`],
      ['Metrics', escapeText(change.source)],
      [
        'No data',
        `after ${s.errorLimit} inconclusive evaluations: ${s.onNoData === 'rollback' ? '*trips* (onNoData: rollback)' : 'alerts the channel and on-call, never shifts'}`,
      ],
    ],
    lines: [
      ...(change.queries.memory ? [`Memory query: \`${escapeText(change.queries.memory)}\``] : []),
      ...(change.queries.errors ? [`5xx query: \`${escapeText(change.queries.errors)}\``] : []),
      ...(change.conditions ?? []).map(
        (c) =>
          `${escapeText(c.name)} (${escapeText(c.trips)}): \`${escapeText(c.query)}\`${c.guard ? `, judged only with traffic: \`${escapeText(c.guard)}\`` : ''}`,
      ),
      ...(change.queries.minRps ? [`Traffic guard (minRps): \`${escapeText(change.queries.minRps)}\``] : []),
      'Approving arms it: a trip then shifts to legacy with no human and latches; raising the cloud share again needs a new approval.',
    ],
    warnings: change.rearm ? [`This ${change.rearm}.`] : [],
  };
}

/** A trip as the message shows it: the stored trip's what, when and why (trips before named conditions have only `values`). */
export type TripView = Pick<
  TripRecord,
  'id' | 'at' | 'reason' | 'values' | 'conditions' | 'breaches' | 'evaluations' | 'outcome'
>;

export function tripMessage(input: {
  service: string;
  incident: string;
  declared: boolean;
  trip: TripView;
  settings: BreakerSettings;
  paging: boolean;
  canary?: string;
}): Message {
  const { service, trip, settings } = input;
  // The conditions that breached first (they are why it tripped), then the other values it saw.
  const judged = [...(trip.conditions ?? [])]
    .filter((j) => j.value !== undefined)
    .sort((x, y) => Number(y.outcome === 'breach') - Number(x.outcome === 'breach'));
  const values = (
    trip.conditions
      ? judged.map(
          (j) =>
            `${escapeText(j.label)} *${formatValue(j.value, j.unit)}* (threshold ${j.op === 'below' ? 'below ' : ''}${formatValue(j.threshold, j.unit)})`,
        )
      : [
          trip.values.memory !== undefined
            ? `memory *${percent(trip.values.memory)}* (threshold ${percent(settings.thresholds.memory)})`
            : null,
          trip.values.errors !== undefined
            ? `5xx *${percent(trip.values.errors)}* (threshold ${percent(settings.thresholds.errors)})`
            : null,
        ]
  )
    .filter(Boolean)
    .join(', ');
  const why =
    trip.reason === 'breach'
      ? `${trip.breaches} breaches in a row: ${values || 'values unreadable'}`
      : `no usable metrics for ${settings.errorLimit} evaluations (onNoData: rollback)`;
  const outcome = trip.outcome;
  const shift = !outcome
    ? ':hourglass_flowing_sand: shifting to legacy 100%…'
    : outcome.ok
      ? outcome.unchanged
        ? ':white_check_mark: traffic was already at legacy 100%; nothing to write'
        : `:white_check_mark: shifted to legacy 100%: ${escapeText(outcome.summary)}`
      : `:x: the shift to legacy did NOT complete (${outcome.reason ?? 'error'}): ${escapeText(outcome.summary)} — run /contain now`;
  const blocks = [
    header(`Breaker tripped: ${service}`),
    section(`:rotating_light: *${service}'s circuit breaker tripped* at ${utc(trip.at)} after ${why}.`),
    section(shift),
    fields([
      ['Incident', `${input.incident}${input.declared ? ' (declared by the breaker)' : ''}`],
      ['Latched', 'Automation will not raise the cloud share again. Re-arm with `/breaker arm` (approval).'],
      [
        'On-call',
        input.paging
          ? 'paging through PagerDuty (result on the timeline)'
          : 'not paged: the incident was already open (its timeline goes to PagerDuty when linked)',
      ],
      ...(input.canary ? ([['Canary', escapeText(input.canary)]] as [string, string][]) : []),
    ]),
    code(trip.evaluations.slice(-6).join('\n') || 'no evaluations kept'),
    context(`Trip ${trip.id} · chart of the last 30 minutes in the thread · /breaker status for details`),
  ];
  return {
    text: `${service} breaker tripped: ${why}. ${outcome ? (outcome.ok ? 'Traffic on legacy 100%.' : 'Shift NOT complete: run /contain.') : 'Shifting to legacy.'}`,
    blocks,
  };
}

export function noDataMessage(input: {
  service: string;
  settings: BreakerSettings;
  notes: string[];
  incident?: string;
}): Message {
  const text = `${input.service}'s breaker has had no usable metrics for ${input.settings.errorLimit} evaluations in a row: it cannot trip on a real breach until this is fixed.`;
  return {
    text,
    blocks: [
      section(`:warning: *${escapeText(text)}*`),
      section(
        input.settings.onNoData === 'rollback'
          ? 'onNoData is `rollback`: the breaker trips and shifts to legacy.'
          : 'Traffic is NOT shifted on missing data (onNoData: alert). Check the metrics source and the queries (`/breaker status` shows each answer).',
      ),
      code(input.notes.join('\n') || '—'),
      context(
        `${input.incident ? `Recorded on ${input.incident}. ` : ''}The on-call is paged through PagerDuty when no incident is open.`,
      ),
    ],
  };
}

/** The stored breaker state as the status view reads it. */
export interface BreakerStateView {
  status: 'armed' | 'tripped' | 'disarmed';
  armId?: string;
  armedAt?: string;
  armedBy?: Actor;
  approvedBy?: Actor[];
  incident?: string;
  settings?: BreakerSettings;
  counters: { breaches: number; inconclusive: number; alerted: boolean };
  nextEvalAt?: number;
  evaluations: number;
  last: Evaluation[];
  trip?: TripView & { incident?: string };
  disarmed?: { at: string; by: Actor };
}

const STATUS_TITLE = {
  armed: ':large_green_circle: armed',
  tripped: ':red_circle: TRIPPED (latched)',
  disarmed: ':white_circle: disarmed',
};

export function breakerStatusMessage(input: {
  service: string;
  state: BreakerStateView | null;
  configured: BreakerSettings;
  source: string;
  leader: string | null;
  now: Date;
  canary?: { id: string; status: string; steps: number[]; index: number };
}): Message {
  const { service, state } = input;
  if (!state) {
    const text = `${service}'s breaker has never been armed. It would trip on ${limitsLine(input.configured)}. Arm it with /breaker arm ${service} (two-person approval).`;
    return {
      text,
      blocks: [header(`Breaker: ${service}`), section(escapeText(text)), context(escapeText(input.source))],
    };
  }
  const s = state.settings ?? input.configured;
  const pairs: [string, string][] = [
    ['State', STATUS_TITLE[state.status]],
    ['Trips on', limitsLine(s)],
    [
      'Armed',
      state.armedBy
        ? `by ${mention(state.armedBy.id)}, approved by ${state.approvedBy?.map((a) => mention(a.id)).join(', ') || '?'} at ${utc(state.armedAt ?? '')} (${state.armId ?? '?'}, ${state.incident ?? '?'})`
        : '—',
    ],
    [
      'Counters',
      `breaches ${state.counters.breaches}/${s.failureLimit} in a row · inconclusive ${state.counters.inconclusive}/${s.errorLimit}${state.counters.alerted ? ' (alerted)' : ''} · ${state.evaluations} evaluations`,
    ],
    [
      'Evaluator',
      `${input.leader ? `\`${escapeText(input.leader)}\` holds the lease` : 'no replica holds the lease right now'}${state.status === 'armed' && state.nextEvalAt ? `; next at ${utc(new Date(state.nextEvalAt))}` : ''}`,
    ],
    ['Metrics', escapeText(input.source)],
  ];
  if (state.disarmed && state.status === 'disarmed')
    pairs.push(['Disarmed', `by ${mention(state.disarmed.by.id)} at ${utc(state.disarmed.at)}`]);
  if (input.canary)
    pairs.push([
      'Canary',
      `${input.canary.status}, step ${input.canary.index + 1} of ${input.canary.steps.length} (${input.canary.steps.join(', ')}%)`,
    ]);
  const blocks = [header(`Breaker: ${service}`), fields(pairs)];
  if (state.trip) {
    const t = state.trip;
    blocks.push(
      section(
        `*Trip* ${utc(t.at)} (${t.reason === 'breach' ? `${t.breaches} breaches${t.conditions ? ` of ${escapeText(describeBreaches(t.conditions))}` : ''}` : 'no data'}) on ${t.incident ?? '?'}: ${t.outcome ? (t.outcome.ok ? (t.outcome.unchanged ? 'traffic was already at legacy 100%' : 'shifted to legacy 100%') : `shift NOT complete: ${escapeText(t.outcome.summary)}`) : 'in progress'}`,
      ),
    );
  }
  if (state.settings && JSON.stringify(state.settings) !== JSON.stringify(input.configured)) {
    blocks.push(
      section(
        ':warning: cloud-safety.yml now has other breaker settings than were approved; it keeps using the approved ones until re-armed.',
      ),
    );
  }
  const rows = state.last
    .slice(-5)
    .map(
      (e) =>
        `${e.at.slice(11, 19)}Z ${e.outcome.padEnd(12)} ${describeEvaluation(e)}${e.traffic ? ` · traffic ${e.traffic}` : ''}`,
    );
  blocks.push(divider(), section('*Last evaluations*'), code(rows.join('\n') || 'none yet'));
  return {
    text: `${service} breaker: ${state.status}; ${rows.at(-1) ?? 'no evaluations yet'}`,
    blocks,
  };
}

/** What a `canary.start` request shows besides the steps. */
export interface CanaryChangeView {
  from: { legacy: number; cloud: number };
  layers: string[];
  breaker: string;
}

export function canaryView(change: CanaryChangeView & { steps: number[]; bakeMs: number }): ChangeView {
  const schedule = change.steps
    .map((s, i) => `${i + 1}. cloud ${s}% for ${formatDuration(change.bakeMs)}`)
    .join('\n');
  return {
    fields: [
      ['Now', `legacy ${change.from.legacy}% / cloud ${change.from.cloud}%`],
      ['Ends at', `cloud ${change.steps.at(-1) ?? '?'}% (legacy ${100 - (change.steps.at(-1) ?? 0)}%)`],
      ['Layers', change.layers.join(' then ')],
      ['Guarded by', escapeText(change.breaker)],
      ['Total', formatDuration(change.steps.length * change.bakeMs)],
    ],
    lines: [
      `Schedule:\n\`\`\`\n${schedule}\n\`\`\``,
      'Each step is held while the breaker evaluates; a breach shifts back to legacy 100% and stops the canary. Approving authorises exactly these raises of the cloud share.',
    ],
  };
}

/** The canary state as its card reads it. */
export interface CanaryCardView {
  id: string;
  service: string;
  steps: number[];
  bakeMs: number;
  index: number;
  status: string;
  cloudPercent: number;
  bakeEndsAt?: string;
  remainingMs?: number;
  requester: Actor;
  approvers: Actor[];
  log: { at: string; text: string }[];
}

const CANARY_TITLE: Record<string, string> = {
  ramping: ':arrow_up: writing the next step',
  baking: ':hourglass_flowing_sand: baking',
  paused: ':double_vertical_bar: paused',
  completed: ':white_check_mark: completed',
  rolled_back: ':rotating_light: rolled back by the breaker',
  aborted: ':octagonal_sign: aborted',
  failed: ':x: stopped: a step could not be written',
};

export function canaryCard(c: CanaryCardView, now: Date): Message {
  const stepText = c.steps
    .map((s, i) => {
      if (i < c.index || (i === c.index && c.status === 'completed')) return `~${s}%~ :white_check_mark:`;
      if (i === c.index) {
        if (c.status === 'baking' && c.bakeEndsAt)
          return `*${s}%* (bake ends ${utc(c.bakeEndsAt).slice(11)}, ${formatDuration(Math.max(0, Date.parse(c.bakeEndsAt) - now.getTime()))} left)`;
        return `*${s}%* (${c.status})`;
      }
      return `${s}%`;
    })
    .join(' → ');
  const blocks = [
    header(`Canary: ${c.service} to cloud ${c.steps.at(-1) ?? '?'}%`),
    fields([
      ['State', CANARY_TITLE[c.status] ?? c.status],
      ['Cloud now', `${c.cloudPercent}%`],
      ['Bake per step', formatDuration(c.bakeMs)],
      [
        'Approved',
        `by ${c.approvers.map((a) => mention(a.id)).join(', ') || '?'}, requested by ${mention(c.requester.id)}`,
      ],
    ]),
    section(`Steps: ${stepText}`),
  ];
  if (c.status === 'paused')
    blocks.push(
      section(
        `Paused with ${formatDuration(c.remainingMs ?? 0)} of bake left. \`/canary resume\` or \`/canary abort\`.`,
      ),
    );
  if (c.log.length > 0)
    blocks.push(
      section(
        c.log
          .slice(-8)
          .map((l) => `• ${utc(l.at).slice(11)} ${escapeText(l.text)}`)
          .join('\n'),
      ),
    );
  blocks.push(context(`Canary ${c.id} · /canary pause · resume · abort`));
  return {
    text: `Canary ${c.service}: ${c.status}, cloud ${c.cloudPercent}% (step ${c.index + 1} of ${c.steps.length})`,
    blocks,
  };
}

export interface PreflightView {
  service: string;
  at: string;
  verdict: 'ready' | 'warnings' | 'not_ready';
  checks: { title: string; status: 'pass' | 'warn' | 'fail'; detail: string; fix?: string }[];
}

const MARK = { pass: ':white_check_mark:', warn: ':warning:', fail: ':x:' };
const VERDICT = {
  ready: ':white_check_mark: Ready to migrate',
  warnings: ':warning: Ready, with warnings',
  not_ready: ':x: NOT ready',
};

export function preflightMessage(report: PreflightView, lead?: string): Message {
  const blocks = [header(`Preflight: ${report.service}`)];
  if (lead) blocks.push(section(`*${escapeText(lead)}*`));
  blocks.push(section(`*${VERDICT[report.verdict]}*`));
  for (const c of report.checks) {
    blocks.push(
      section(
        `${MARK[c.status]} *${escapeText(c.title)}* — ${c.status.toUpperCase()}\n${escapeText(c.detail)}${c.fix ? `\n_How to fix:_ ${escapeText(c.fix)}` : ''}`,
      ),
    );
  }
  blocks.push(
    context(`Checked ${utc(report.at)} · the same checks run before /canary start, which refuses on a FAIL`),
  );
  const lines = report.checks.map(
    (c) => `${c.status.toUpperCase()} ${c.title}: ${c.detail}${c.fix ? ` — fix: ${c.fix}` : ''}`,
  );
  return {
    text: `${lead ? `${lead}\n` : ''}Preflight ${report.service}: ${report.verdict}\n${lines.join('\n')}`,
    blocks,
  };
}
