// Reading Terraform's output: the `-json` UI stream, plain-text stderr errors and pulled state.
import type { ProgressEvent } from '../sandbox.ts';
import type { Spawned } from './terraform-process.ts';
import type { RunContext } from './terraform-run.ts';
import type { TerraformDestroyResult, TerraformOutput, TerraformStage } from './terraform-types.ts';

interface UiResource {
  addr?: string;
}
interface UiDiagnostic {
  severity?: string;
  summary?: string;
  detail?: string;
  address?: string;
  range?: { filename?: string; start?: { line?: number } };
}
interface UiMessage {
  type?: string;
  '@level'?: string;
  '@message'?: string;
  change?: { resource?: UiResource; action?: string };
  hook?: { resource?: UiResource; action?: string; elapsed_seconds?: number };
  changes?: { add?: number; change?: number; remove?: number; operation?: string };
  diagnostic?: UiDiagnostic;
  outputs?: Record<string, { sensitive?: boolean; value?: unknown; action?: string }>;
}

/** One diagnostic as a line people can act on: summary, detail, the resource and file:line it points at. */
export function formatDiagnostic(d: UiDiagnostic): string {
  const detail = (d.detail ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('To silence these warnings'))
    .slice(0, 4)
    .join(' ');
  const where = [
    d.address ? `resource ${d.address}` : '',
    d.range?.filename ? `${d.range.filename}${d.range.start?.line ? `:${d.range.start.line}` : ''}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${(d.summary ?? 'error').split('\n')[0]}${detail ? `: ${detail}` : ''}${where ? ` (${where})` : ''}`;
}

/**
 * Shortens a diagnostic for chat after its secrets were hidden (cutting first could leave half a secret), at the
 * end of a sentence when one ends late enough, else at a word, and says that it was cut.
 */
export function cutText(text: string, max = 600): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max - 1);
  const sentence = head.lastIndexOf('. ');
  if (sentence >= max / 2) return `${head.slice(0, sentence + 1)} […]`;
  const word = head.lastIndexOf(' ');
  return `${word >= max / 2 ? head.slice(0, word) : head}…`;
}

export type ParsedLine =
  | { kind: 'progress'; event: ProgressEvent }
  | { kind: 'diagnostic'; severity: 'error' | 'warning'; text: string }
  | { kind: 'outputs'; outputs: TerraformOutput[] }
  | { kind: 'changes'; operation: string; add: number; change: number; remove: number }
  | { kind: 'other' };

/** Parses one line of `-json` output into our terms; anything unknown is `other` (the format only grows). */
export function parseUiLine(line: string): ParsedLine {
  let msg: UiMessage;
  try {
    msg = JSON.parse(line) as UiMessage;
  } catch {
    return { kind: 'other' };
  }
  if (msg === null || typeof msg !== 'object') return { kind: 'other' };
  const address = msg.hook?.resource?.addr ?? msg.change?.resource?.addr ?? '';
  const action = msg.hook?.action ?? msg.change?.action ?? '';
  const elapsedSeconds = msg.hook?.elapsed_seconds ?? 0;
  switch (msg.type) {
    case 'planned_change':
      return { kind: 'progress', event: { type: 'planned', address, action } };
    case 'apply_start':
      return { kind: 'progress', event: { type: 'start', address, action } };
    case 'apply_progress':
      return { kind: 'progress', event: { type: 'still', address, action, elapsedSeconds } };
    case 'apply_complete':
      return { kind: 'progress', event: { type: 'complete', address, action, elapsedSeconds } };
    case 'apply_errored':
      return { kind: 'progress', event: { type: 'errored', address, action, elapsedSeconds } };
    case 'change_summary': {
      const c = msg.changes ?? {};
      return {
        kind: 'changes',
        operation: c.operation ?? 'apply',
        add: c.add ?? 0,
        change: c.change ?? 0,
        remove: c.remove ?? 0,
      };
    }
    case 'diagnostic': {
      const d = msg.diagnostic ?? {};
      return {
        kind: 'diagnostic',
        severity: d.severity === 'warning' ? 'warning' : 'error',
        text: formatDiagnostic(d),
      };
    }
    case 'outputs': {
      const outputs = Object.entries(msg.outputs ?? {})
        // Planned outputs carry `action`, applied ones carry the value (or nothing when sensitive).
        .filter(([, o]) => o.action === undefined)
        .map(([name, o]) => ({
          name,
          sensitive: o.sensitive === true,
          ...(o.sensitive === true || o.value === undefined ? {} : { value: o.value }),
        }));
      return outputs.length > 0 ? { kind: 'outputs', outputs } : { kind: 'other' };
    }
    default:
      return { kind: 'other' };
  }
}

// eslint-disable-next-line no-control-regex -- ANSI colour codes start with ESC
const ANSI = /\u001b\[[0-9;]*m/g;

/** Error lines from a plain-text Terraform command's stderr: from the first "Error:" on, without blank lines. */
export function errorLines(stderr: string, max = 15): string[] {
  const lines = stderr.replace(ANSI, '').split('\n');
  const first = lines.findIndex((l) => /^\s*(│\s*)?Error:/.test(l));
  return lines
    .slice(first >= 0 ? first : 0)
    .map((l) => l.replace(/^[\s│╷╵]+/, '').trimEnd())
    .filter((l) => l !== '')
    .slice(0, max);
}

export function scrubEvent(event: ProgressEvent, scrub: (text: string) => string): ProgressEvent {
  switch (event.type) {
    case 'planned':
    case 'start':
    case 'still':
    case 'complete':
    case 'errored':
      return { ...event, address: scrub(event.address) };
    case 'diagnostic':
    case 'stage':
      return { ...event, text: scrub(event.text) };
    default:
      return event;
  }
}

/** Resource instances a pulled state holds (managed resources only: data sources cost nothing). */
export function countStateInstances(stateJson: string): number {
  if (stateJson.trim() === '') return 0;
  const state = JSON.parse(stateJson) as { resources?: { mode?: string; instances?: unknown[] }[] };
  return (state.resources ?? [])
    .filter((r) => r.mode !== 'data')
    .reduce((n, r) => n + (r.instances?.length ?? 0), 0);
}

/** The result of a plain-text command that failed part-way through a destroy. */
export function cliFailure(stage: TerraformStage, run: Spawned, ctx: RunContext): TerraformDestroyResult {
  return {
    ok: false,
    stage,
    workspaceReady: true,
    errors: errorLines(run.stderr).map(ctx.scrub),
    warnings: [],
    outputs: [],
    timedOut: run.timedOut,
    workspaceDeleted: false,
    found: 0,
    remaining: 0,
  };
}
