// Views of a sandbox: the card in the channel, the progress and results in its thread, the escalation, /sandbox status.
import type { Message } from '../../src/chat/chat.ts';
import { formatDuration } from '../../src/duration.ts';
import type { Progress, SandboxOutput, SandboxRecord, SandboxState } from '../../src/sandbox.ts';
import {
  code,
  context,
  escapeText,
  fields,
  header,
  mention,
  section,
  truncate,
  utc,
} from '../../src/chat/blocks/kit.ts';

const STATE_LINE: Record<SandboxState, string> = {
  creating: ':hourglass_flowing_sand: Applying Terraform…',
  up: ':large_green_circle: Up',
  failed: ':x: Apply failed: what was created is still there until `/sandbox down` or the TTL',
  destroying: ':hourglass_flowing_sand: Destroying…',
  destroyed: ':white_check_mark: Destroyed',
  destroy_failed: ':rotating_light: Teardown FAILED: resources are still running',
};

export function outputLines(outputs: SandboxOutput[]): string {
  if (outputs.length === 0) return '(the module has no outputs)';
  return outputs
    .map((o) => `${o.name} = ${o.sensitive ? '(sensitive, hidden)' : truncate(o.value ?? '', 300)}`)
    .join('\n');
}

function imageText(record: SandboxRecord): string {
  return record.image ? `\`${escapeText(record.image)}\`` : '_none recorded (no `/telemetry` snapshot)_';
}

function stateText(record: SandboxRecord, now: Date): string {
  const base = STATE_LINE[record.state];
  switch (record.state) {
    case 'up':
      return `${base} since ${utc(record.readyAt ?? record.requestedAt)}; destroyed automatically at ${utc(record.expiresAt)} (${formatDuration(Date.parse(record.expiresAt) - now.getTime())} left)`;
    case 'destroyed':
      return `${base} ${utc(record.destroyedAt ?? '')}${record.teardownReason === 'ttl' ? ' when its TTL ran out' : ''}`;
    case 'destroy_failed':
      return `${base} (attempt ${record.destroyAttempts}${record.remaining !== undefined ? `, ${record.remaining} resource(s) still in Terraform's state` : ''}); next automatic retry ${record.nextRetryAt ? utc(record.nextRetryAt) : 'soon'}`;
    case 'failed':
      return record.interruptedAt
        ? `:x: Apply interrupted (the bot stopped while Terraform ran, found ${utc(record.interruptedAt)}): what it created is still there until \`/sandbox down\` or the TTL`
        : base;
    default:
      return base;
  }
}

/** The card posted in the channel when `/sandbox up` starts; edited as the sandbox changes. */
export function sandboxCard(record: SandboxRecord, now: Date): Message {
  const blocks = [
    header(`Sandbox ${record.workspace} · ${record.service}`),
    section(stateText(record, now)),
    fields([
      ['Workspace', `\`${record.workspace}\``],
      ['Image', imageText(record)],
      ['Evidence', `${record.evidence.length} artifact(s)`],
      ['Requested by', `${mention(record.requestedBy.id)} at ${utc(record.requestedAt)}`],
      [
        'Resources',
        `${record.resources.done} done / ${record.resources.planned} planned${record.resources.failed > 0 ? `, ${record.resources.failed} failed` : ''}${record.resources.inState !== undefined ? `; ${record.resources.inState} in Terraform's state` : ''}`,
      ],
      ['TTL ends', utc(record.expiresAt)],
    ]),
  ];
  if (record.state === 'up' && record.outputs.length > 0) blocks.push(code(outputLines(record.outputs)));
  if ((record.state === 'failed' || record.state === 'destroy_failed') && record.errors.length > 0) {
    blocks.push(code(record.errors.slice(0, 8).join('\n')));
  }
  blocks.push(
    context('Progress and results are in the thread · `/sandbox status` · `/sandbox down` destroys it now'),
  );
  return {
    text: `Sandbox ${record.workspace} (${record.service}): ${STATE_LINE[record.state].replace(/^:[a-z_]+: /, '')}`,
    blocks,
  };
}

const RESOURCE_ICON = { planned: '·', running: '…', done: '✓', failed: '✗' } as const;

/** The thread message a Terraform run edits as it streams (throttled). */
export function progressMessage(workspace: string, progress: Progress, finished?: 'ok' | 'failed'): Message {
  const verb = progress.operation === 'apply' ? 'apply' : 'destroy';
  const head =
    finished === 'ok'
      ? `Terraform ${verb} in \`${workspace}\` finished: ${progress.summary ?? `${progress.done} done`}`
      : finished === 'failed'
        ? `Terraform ${verb} in \`${workspace}\` FAILED at ${progress.stage}: ${progress.done} done, ${progress.failed} failed`
        : `Terraform ${verb} in \`${workspace}\`: ${progress.stage}… ${progress.done}/${progress.planned} done${progress.failed > 0 ? `, ${progress.failed} failed` : ''}`;
  const lines = progress.resources.map((r) => {
    const time = r.elapsedSeconds !== undefined ? ` (${r.elapsedSeconds}s)` : '';
    return `${RESOURCE_ICON[r.state]} ${r.address}: ${r.action}${r.state === 'failed' ? ' FAILED' : ''}${time}`;
  });
  // Slack caps a section at 3000 characters: failures and running resources are kept, then the newest others.
  const shown = keepImportant(progress.resources, lines, 30);
  const notes = [
    ...progress.notes.filter((n) => n.startsWith('Error')),
    ...progress.notes.filter((n) => !n.startsWith('Error')),
  ].slice(0, 6);
  const body = [...shown, ...notes].join('\n');
  return {
    text: head,
    blocks: [section(head), ...(body ? [code(body)] : [])],
  };
}

/** At most `max` lines: every failed and running one first in their order, the newest of the rest after. */
export function keepImportant(resources: Progress['resources'], lines: string[], max: number): string[] {
  if (lines.length <= max) return lines;
  const important = new Set(
    resources.flatMap((r, i) => (r.state === 'failed' || r.state === 'running' ? [i] : [])).slice(0, max),
  );
  const room = max - important.size;
  const rest = resources.flatMap((_, i) => (important.has(i) ? [] : [i]));
  const keep = new Set([...important, ...(room > 0 ? rest.slice(-room) : [])]);
  const cut = lines.length - keep.size;
  return [`… ${cut} other line(s) not shown (succeeded or planned)`, ...lines.filter((_, i) => keep.has(i))];
}

/** Posted in the thread when the apply succeeds. */
export function outputsMessage(record: SandboxRecord): Message {
  const text = `Sandbox \`${record.workspace}\` is up. Outputs (sensitive values hidden):`;
  return {
    text: `${text}\n${outputLines(record.outputs)}`,
    blocks: [
      section(text),
      code(outputLines(record.outputs)),
      context(`Destroyed automatically at ${utc(record.expiresAt)}; \`/sandbox down\` destroys it now.`),
    ],
  };
}

/** Terraform's own error lines and what to do next. */
export function failureMessage(title: string, errors: string[], next: string): Message {
  const lines = errors.length > 0 ? errors.slice(0, 12).join('\n') : '(Terraform printed no error lines)';
  return {
    text: `${title}\n${lines}\n${next}`,
    blocks: [section(`:x: ${title}`), code(lines), section(next)],
  };
}

/** Posted in the channel itself (not the thread) when a teardown fails, so nobody can miss it. */
export function escalationMessage(record: SandboxRecord, errors: string[]): Message {
  const retry = record.nextRetryAt ? utc(record.nextRetryAt) : 'soon';
  const held =
    record.remaining !== undefined
      ? `Terraform's state still holds ${record.remaining} resource(s); they may be running and cost money.`
      : 'Its resources may still be running and cost money.';
  const title = `<!here> Sandbox \`${record.workspace}\` (${record.service}, ${record.incident}) could not be destroyed (attempt ${record.destroyAttempts}). ${held}`;
  return {
    text: `Sandbox ${record.workspace} could not be destroyed (attempt ${record.destroyAttempts}); retrying at ${retry}`,
    blocks: [
      section(`:rotating_light: ${title}`),
      code(errors.slice(0, 10).join('\n') || '(no error lines)'),
      section(
        `The bot retries on its own (next at ${retry}) until it succeeds. Fix the cause above (credentials, a stuck lock: \`terraform force-unlock\`, a resource deleted by hand), then run \`/sandbox down\` to retry now.`,
      ),
    ],
  };
}

export function loadMessage(
  workspace: string,
  command: string[],
  summary: {
    running: boolean;
    ok?: boolean;
    exitCode?: number | null;
    timedOut?: boolean;
    durationMs?: number;
    lines: number;
    tail: string[];
    error?: string;
  },
): Message {
  const cmd = escapeText(command.join(' '));
  const head = summary.running
    ? `Load against \`${workspace}\`: running \`${cmd}\` (${summary.lines} lines so far)`
    : summary.ok
      ? `Load against \`${workspace}\` passed: \`${cmd}\` exited 0 after ${formatDuration(summary.durationMs ?? 0)}`
      : `Load against \`${workspace}\` FAILED: \`${cmd}\` ${summary.error ? escapeText(summary.error) : summary.timedOut ? `timed out after ${formatDuration(summary.durationMs ?? 0)}` : `exited ${summary.exitCode ?? 'on a signal'} after ${formatDuration(summary.durationMs ?? 0)}`}`;
  return {
    text: head,
    blocks: [section(head), ...(summary.tail.length > 0 ? [code(summary.tail.join('\n'))] : [])],
  };
}

/** The ephemeral answer to `/sandbox status`. */
export function sandboxStatus(record: SandboxRecord, now: Date, link?: string): Message {
  const age = formatDuration(now.getTime() - Date.parse(record.requestedAt));
  const left = Date.parse(record.expiresAt) - now.getTime();
  const blocks = [
    header(`Sandbox ${record.workspace} · ${record.service}`),
    section(stateText(record, now)),
    fields([
      ['State', record.state],
      ['Age', age],
      ['Time left', record.state === 'destroyed' ? '-' : left > 0 ? formatDuration(left) : 'due now'],
      ['Image', imageText(record)],
      ['Evidence', `${record.evidence.length} artifact(s)`],
      [
        'Load',
        record.load
          ? record.load.state === 'running'
            ? 'running'
            : record.load.ok
              ? 'passed'
              : 'failed'
          : 'not run',
      ],
    ]),
  ];
  if (record.outputs.length > 0 && record.state !== 'destroyed')
    blocks.push(code(outputLines(record.outputs)));
  if (record.errors.length > 0 && record.state !== 'up' && record.state !== 'destroyed') {
    blocks.push(code(record.errors.slice(0, 8).join('\n')));
  }
  if (link) blocks.push(context(`<${link}|Thread with the full progress>`));
  return { text: `Sandbox ${record.workspace}: ${record.state}, ${age} old`, blocks };
}
