// Views of step O: the audit's progress and summary, CDC warnings, and the lock/unlock/reconcile approval cards.
import { formatDuration } from '../../src/duration.ts';
import {
  CLASS_MEANING,
  DIFFERENCE_CLASSES,
  type AuditProgress,
  type AuditResult,
  type CdcHealth,
  type DifferenceClass,
  type LedgerDifference,
  type TablePrivilege,
} from '../../src/ledger.ts';
import type { Message } from '../../src/chat/chat.ts';
import type { ChangeView } from '../../src/chat/blocks/approval.ts';
import { code, context, escapeText, fields, header, section, utc } from '../../src/chat/blocks/kit.ts';

export const SAMPLES_PER_CLASS = 5;

function n(value: number): string {
  return value.toLocaleString('en-US');
}

const ICON: Record<DifferenceClass, string> = {
  missing_in_legacy: ':red_circle:',
  missing_in_cloud: ':large_yellow_circle:',
  mismatched: ':large_yellow_circle:',
  partial: ':large_yellow_circle:',
  invariant: ':red_circle:',
  in_flight: ':large_blue_circle:',
  duplicate: ':red_circle:',
};

export interface AuditView {
  service: string;
  /** "public.ledger_entries on legacy … and cloud …" */
  target: string;
  keyName: string;
  since: string;
  /** What the audit is for: a plain audit, a reconcile dry run, or the re-audit after a copy. */
  title?: string;
}

export function cdcLine(cdc: CdcHealth | undefined): string {
  if (!cdc) return ':white_circle: CDC: not configured (ledger.cdc); the in-flight margin is 60 s.';
  if (cdc.healthy) return `:white_check_mark: CDC (${cdc.kind}): ${escapeText(cdc.detail)}`;
  return `:rotating_light: *CDC is not healthy* (${cdc.kind}): ${escapeText(cdc.detail)}. Rolled-back cloud writes will NOT flow back to legacy until it is fixed; rows the cloud wrote stay missing_in_legacy.`;
}

export function auditProgressMessage(
  view: AuditView,
  progress: AuditProgress | undefined,
  note?: string,
): Message {
  const title = view.title ?? 'Ledger audit';
  const pct = progress ? `${Math.floor(progress.fraction * 100)}%` : 'starting';
  const parts = [
    `:hourglass_flowing_sand: ${title} of *${escapeText(view.service)}* since ${utc(view.since)}: ${pct}`,
  ];
  if (progress) {
    parts.push(
      `${progress.phase === 'scan' ? 'hashing both sides' : progress.phase === 'drill' ? 'fetching rows of differing buckets' : 'checking double-entry groups'}, ${n(progress.rowsScanned)} rows hashed, ${formatDuration(progress.elapsedMs)} so far${progress.etaMs !== undefined ? `, ETA ${formatDuration(progress.etaMs)}` : ''}`,
    );
  }
  const blocks = [section(parts.join('\n')), context(escapeText(view.target))];
  if (note) blocks.push(context(escapeText(note)));
  return { text: parts.join(' — '), blocks };
}

function sampleLine(d: LedgerDifference, keyName: string): string {
  if (d.class === 'invariant') return escapeText(d.detail ?? `${d.key} on ${d.side ?? '?'}`);
  const where = d.side ? ` on ${d.side}` : '';
  const cols = d.columns.length > 0 ? `: ${d.columns.join(', ')}` : '';
  return `\`${escapeText(keyName)}=${escapeText(d.key)}\`${where}${escapeText(cols)}`;
}

export interface AuditSummaryInput extends AuditView {
  result: AuditResult;
  cdc: CdcHealth | undefined;
  samples: Partial<Record<DifferenceClass, LedgerDifference[]>>;
  csv?: { path: string; rows: number; sha256: string };
  maxDifferences: number;
}

export function isClean(result: AuditResult): boolean {
  const c = result.counts;
  return (
    !result.bulkDivergence &&
    c.missing_in_legacy + c.missing_in_cloud + c.mismatched + c.partial + c.invariant + c.duplicate === 0
  );
}

export function auditSummaryMessage(input: AuditSummaryInput): Message {
  const { result } = input;
  const total = DIFFERENCE_CLASSES.reduce((sum, cls) => sum + result.counts[cls], 0);
  const clean = isClean(result);
  const title = input.title ?? 'Ledger audit';
  const verdict = result.bulkDivergence
    ? `BULK DIVERGENCE (more than ${n(input.maxDifferences)} differences)`
    : clean
      ? result.counts.in_flight > 0
        ? `clean, ${n(result.counts.in_flight)} in flight`
        : 'clean'
      : `${n(total - result.counts.in_flight)} difference${total === 1 ? '' : 's'}`;
  const blocks = [header(`${title}: ${input.service} — ${verdict}`)];
  if (result.bulkDivergence) {
    const b = result.bulkDivergence;
    blocks.push(
      section(
        `:rotating_light: *Bulk divergence*: at least ${n(b.atLeast)} differences; ${n(b.differingBuckets)} of ${n(b.totalBuckets)} buckets differ; legacy has ${n(b.legacyRows)} rows and cloud ${n(b.cloudRows)} in the window. Stopped fetching rows (limit ledger.maxDifferences = ${n(input.maxDifferences)}): this is not a replay job. Check the CDC sync and the migration itself before reconciling; audit a shorter window with since= to see details.`,
      ),
    );
  }
  const lines: string[] = [];
  const unchecked = new Set(result.unchecked);
  for (const cls of DIFFERENCE_CLASSES) {
    const count = result.counts[cls];
    // A class the audit stopped before searching to the end: a 0 there would be a lie.
    if (unchecked.has(cls)) {
      lines.push(
        `:white_circle: *${cls}* ${count === 0 ? 'not checked' : `at least ${n(count)}, not fully checked`} — the audit stopped at bulk divergence before searching every row for it`,
      );
      continue;
    }
    if (count === 0 && cls !== 'missing_in_legacy') continue;
    const samples = (input.samples[cls] ?? []).slice(0, SAMPLES_PER_CLASS);
    const more = count > samples.length ? ` … and ${n(count - samples.length)} more in the CSV` : '';
    lines.push(
      `${count === 0 ? ':white_check_mark:' : ICON[cls]} *${cls}* ${n(count)} — ${CLASS_MEANING[cls]}${samples.length > 0 ? `\n      ${samples.map((s) => sampleLine(s, input.keyName)).join('\n      ')}${more}` : ''}`,
    );
  }
  if (clean && lines.length <= 1)
    lines.push(':white_check_mark: no row differs, no row is partial, every group balances.');
  blocks.push(section(lines.join('\n')));
  const seconds = result.durationMs / 1000;
  blocks.push(
    fields([
      ['Window', `since ${utc(result.since)}`],
      [
        'Rows compared',
        `${n(result.rowsCompared)} (legacy ${n(result.rows.legacy)}, cloud ${n(result.rows.cloud)})`,
      ],
      ['Duration', formatDuration(result.durationMs)],
      ['Rate', `${n(Math.round(result.rowsCompared / Math.max(seconds, 0.001)))} rows/s`],
      ['Buckets', `${n(result.differingBuckets)} of ${n(result.buckets)} differ`],
      ['Compared by', result.method === 'md5' ? 'md5 of normalised text' : 'hash_record_extended'],
    ]),
  );
  blocks.push(section(cdcLine(input.cdc)));
  if (result.counts.missing_in_legacy > 0 && !result.bulkDivergence && !input.title) {
    blocks.push(
      section(
        `Next: \`/ledger lock\` to stop the cloud writers, then \`/ledger reconcile\` to copy the ${n(result.counts.missing_in_legacy)} missing_in_legacy row(s) into legacy (dry run first, two-person approval). Mismatched and partial rows are for humans: see the CSV.`,
      ),
    );
  }
  const notes = [
    input.csv
      ? `CSV: ${escapeText(input.csv.path)} (${n(input.csv.rows)} rows, sha256 ${input.csv.sha256.slice(0, 16)}…)`
      : 'No CSV (nothing to list).',
    escapeText(input.target),
    ...result.notes.map(escapeText),
  ];
  blocks.push(context(...notes));
  return { text: `${title}: ${input.service} — ${verdict}`, blocks };
}

export function auditFailedMessage(view: AuditView, error: string, durationMs: number): Message {
  const title = view.title ?? 'Ledger audit';
  const text = `:x: ${title} of *${escapeText(view.service)}* since ${utc(view.since)} FAILED after ${formatDuration(durationMs)}: ${escapeText(error)}`;
  return {
    text: `${title} of ${view.service} FAILED: ${error}`,
    blocks: [
      section(text),
      context(
        'A failed audit proves nothing either way: it is not a clean result. Fix the cause and run it again.',
      ),
    ],
  };
}

export interface LockChange {
  role: string;
  table: string;
  revoke: TablePrivilege[];
  sessions: number;
}

export function lockView(change: LockChange): ChangeView {
  return {
    fields: [
      ['Role', `\`${escapeText(change.role)}\``],
      ['Table (cloud)', escapeText(change.table)],
      ['Revoke', change.revoke.map((p) => p.privilege + (p.grantable ? ' (grant option)' : '')).join(', ')],
      ['Sessions to end', String(change.sessions)],
    ],
    lines: [
      'In one transaction: revoke these privileges, check the role can no longer write by any path, end its sessions. `/ledger unlock` grants back exactly these.',
    ],
  };
}

export function unlockView(change: LockChange & { lockedAt: string }): ChangeView {
  return {
    fields: [
      ['Role', `\`${escapeText(change.role)}\``],
      ['Table (cloud)', escapeText(change.table)],
      [
        'Grant back',
        change.revoke.map((p) => p.privilege + (p.grantable ? ' (grant option)' : '')).join(', '),
      ],
      ['Locked since', utc(change.lockedAt)],
    ],
    warnings: ['The cloud writers can write to the ledger again as soon as this runs.'],
  };
}

export interface ReconcileChange {
  table: string;
  since: string;
  keys: string[];
  keyName: string;
  columns: string[];
  preview: string[];
  warnings: string[];
  role: string;
}

export function reconcileView(change: ReconcileChange): ChangeView {
  const first = change.keys.slice(0, 10).map((k) => `${change.keyName}=${k}`);
  return {
    fields: [
      ['Rows to copy', `${n(change.keys.length)} missing_in_legacy`],
      ['Into', `legacy ${escapeText(change.table)}`],
      ['Keys', escapeText(first.join(', ') + (change.keys.length > first.length ? ', …' : ''))],
      ['Never', 'deletes or overwrites: INSERT … ON CONFLICT DO NOTHING, one transaction'],
    ],
    lines: [
      `Dry run, first statements:\n\`\`\`\n${escapeText(change.preview.join('\n'))}\n\`\`\``,
      `After the copy the ledger is audited again since ${utc(change.since)}; mismatched and partial rows stay for humans.`,
    ],
    warnings: change.warnings.map(escapeText),
  };
}

export function reconcileDryRunMessage(service: string, change: ReconcileChange, skipped: number): Message {
  const lines = [
    `*Reconcile dry run for ${escapeText(service)}*: would copy ${n(change.keys.length)} missing_in_legacy row(s) from cloud into legacy ${escapeText(change.table)}, in one transaction, with ON CONFLICT DO NOTHING (a second run copies nothing). Nothing is deleted or overwritten.`,
  ];
  if (skipped > 0)
    lines.push(`${n(skipped)} missing row(s) are partial on cloud and are NOT copied; see the CSV.`);
  return {
    text: lines.join(' '),
    blocks: [section(lines.join('\n')), code(change.preview.join('\n') || '(no statements)')],
  };
}
