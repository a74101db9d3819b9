// Step L views: the workload snapshot table, the evidence capture card, the quarantine change and the release note.
import type { Message } from '../../src/chat/chat.ts';
import type { ChangeView } from '../../src/chat/blocks/approval.ts';
import { formatDuration } from '../../src/duration.ts';
import { formatBytes, type PodRow, type WorkloadSnapshot } from '../../src/workload.ts';
import {
  actions,
  code,
  context,
  escapeText,
  fields,
  header,
  section,
  truncate,
  utc,
  type ButtonSpec,
} from '../../src/chat/blocks/kit.ts';

export const DEBUG_CONTAINER_ACTION = 'telemetry.debug';
const MAX_ROWS = 20;
const MAX_EVENTS = 8;

function shortNode(node: string | undefined): string {
  return node ? (node.split('.')[0] ?? node) : '-';
}

function hhmm(iso: string | undefined): string {
  return iso ? `${utc(iso).slice(11, 16)}Z` : '';
}

function shortDigest(digest: string): string {
  return digest.startsWith('sha256:') ? `${digest.slice(0, 13)}…${digest.slice(-4)}` : digest;
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text.padEnd(width + 1);
}

/** The monospace table: one line per pod, worst first. */
export function snapshotTable(pods: PodRow[]): string {
  const columns = ['POD', 'STATUS', 'READY', 'RESTARTS', 'LAST EXIT', 'MEMORY / LIMIT', '%', 'NODE'];
  const rows = pods
    .slice(0, MAX_ROWS)
    .map((p) => [
      p.quarantined ? `${p.name} [Q]` : p.name,
      p.status,
      p.ready ? 'yes' : 'no',
      String(p.restarts),
      p.lastTermination ? `${p.lastTermination.reason} ${hhmm(p.lastTermination.at)}`.trim() : '-',
      p.memoryBytes !== undefined || p.limitBytes !== undefined
        ? `${formatBytes(p.memoryBytes)} / ${p.limitBytes !== undefined ? formatBytes(p.limitBytes) : 'none'}`
        : '-',
      p.percent !== undefined ? String(Math.round(p.percent)) : '-',
      shortNode(p.node),
    ]);
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : pad(cell, widths[i] ?? 0)))
      .join(' ')
      .trimEnd();
  const lines = [line(columns), ...rows.map(line)];
  if (pods.length > MAX_ROWS) lines.push(`… and ${pods.length - MAX_ROWS} more pods`);
  return lines.join('\n');
}

export function snapshotSummary(s: WorkloadSnapshot): string {
  const ready = s.pods.filter((p) => p.ready).length;
  const oom = s.pods.filter((p) => p.oomKilled).length;
  const restarts = s.pods.reduce((sum, p) => sum + p.restarts, 0);
  return `${s.service}: ${s.pods.length} pods, ${ready} ready, ${restarts} restarts, ${oom} last killed by OOM`;
}

export function snapshotMessage(s: WorkloadSnapshot, opts: { chartNote?: string } = {}): Message {
  const ready = s.pods.filter((p) => p.ready).length;
  const oom = s.pods.filter((p) => p.oomKilled).length;
  const restarts = s.pods.reduce((sum, p) => sum + p.restarts, 0);
  const blocks = [
    header(`Workload snapshot · ${s.service} · ${s.namespace}`),
    fields([
      ['Pods', `${s.pods.length} matching \`${escapeText(s.selector)}\`, ${ready} ready`],
      ['Restarts', String(restarts)],
      ['OOMKilled', `${oom} of ${s.pods.length} pods (last termination)`],
      [
        'Memory',
        s.metrics.available
          ? `from metrics.k8s.io, container \`${escapeText(s.container)}\``
          : `:warning: not available: ${escapeText(s.metrics.reason ?? 'unknown')}`,
      ],
    ]),
    code(snapshotTable(s.pods)),
  ];
  const digests = s.digests.map(
    (d) => `\`${shortDigest(d.digest)}\` on ${d.pods} pod${d.pods === 1 ? '' : 's'}`,
  );
  blocks.push(
    section(
      `*Images running:* ${digests.join(', ') || 'unknown'}${s.digests.length > 1 ? '\n:warning: More than one image is running: compare the failing pods with the healthy ones.' : ''}`,
    ),
  );
  if (s.events.length > 0) {
    const lines = s.events
      .slice(0, MAX_EVENTS)
      .map(
        (e) =>
          `${hhmm(e.lastSeen)} ${e.pod} ${e.reason}${e.count > 1 ? ` x${e.count}` : ''}: ${truncate(e.message.replace(/\s+/g, ' '), 140)}`,
      );
    if (s.events.length > MAX_EVENTS) lines.push(`… and ${s.events.length - MAX_EVENTS} more`);
    blocks.push(section('*Warning events (last hour)*'), code(lines.join('\n')));
  } else {
    blocks.push(section('*Warning events (last hour):* none'));
  }
  blocks.push(
    context(`Taken ${utc(s.at)}`, opts.chartNote ?? 'Chart: memory % of limit per pod', '[Q] = quarantined'),
  );
  return { text: snapshotSummary(s), blocks };
}

export type CaptureState = 'waiting' | 'running' | 'kept' | 'failed' | 'skipped';

export interface CaptureItemView {
  pod: string;
  kind: string;
  state: CaptureState;
  detail?: string;
  uri?: string;
  size?: number;
  sha256?: string;
  verifiedInPod?: boolean;
  kept?: { uri: string; size: number };
}

export interface CaptureView {
  incident: string;
  service: string;
  location: string;
  items: CaptureItemView[];
  /** Pods whose image lacks a dump tool, with the tool, when a debug image is configured. */
  offers: { pod: string; tool: string; value: string }[];
  finished?: { kept: number; failed: number; skipped: number };
  note?: string;
}

const ICON: Record<CaptureState, string> = {
  waiting: ':white_circle:',
  running: ':hourglass_flowing_sand:',
  kept: ':white_check_mark:',
  failed: ':x:',
  skipped: ':fast_forward:',
};

function itemLine(item: CaptureItemView): string {
  const head = `${ICON[item.state]} \`${item.pod}\` ${item.kind}`;
  switch (item.state) {
    case 'kept':
      return `${head}: ${formatBytes(item.size)}, sha256 \`${(item.sha256 ?? '').slice(0, 12)}…\`${item.verifiedInPod ? ' (matches the pod)' : ''} ${item.uri ?? ''}`;
    case 'failed':
      return `${head} *failed*: ${escapeText(item.detail ?? 'unknown error')}${item.kept ? ` Kept ${formatBytes(item.kept.size)} as a PARTIAL artifact: ${item.kept.uri}` : ''}`;
    case 'skipped':
      return `${head} skipped: ${escapeText(item.detail ?? '')}`;
    case 'running':
      return `${head}: ${escapeText(item.detail ?? 'running')}`;
    default:
      return `${head}: waiting`;
  }
}

export function captureMessage(view: CaptureView): Message {
  const title = view.finished
    ? view.finished.failed > 0
      ? 'Evidence capture finished with failures'
      : 'Evidence capture finished'
    : 'Evidence capture running';
  const blocks = [header(`${title} · ${view.incident} · ${view.service}`)];
  // Slack allows 3000 characters per section: chunk the lines.
  const lines = view.items.map(itemLine);
  let chunk: string[] = [];
  for (const line of lines) {
    if ([...chunk, line].join('\n').length > 2900) {
      blocks.push(section(chunk.join('\n')));
      chunk = [];
    }
    chunk.push(line);
  }
  if (chunk.length > 0) blocks.push(section(chunk.join('\n')));
  if (view.note) blocks.push(section(view.note));
  if (view.offers.length > 0) {
    blocks.push(
      section(
        view.offers
          .map(
            (o) =>
              `:warning: \`${o.pod}\` has no \`${escapeText(o.tool)}\` in its image. An ephemeral debug container with the configured debug image can take the dumps instead.`,
          )
          .join('\n'),
      ),
    );
    const buttons: ButtonSpec[] = view.offers.slice(0, 5).map((o) => ({
      text: `Debug container: ${truncate(o.pod, 40)}`,
      actionId: DEBUG_CONTAINER_ACTION,
      value: o.value,
      confirm: {
        title: 'Add a debug container?',
        text: `Adds an ephemeral container to ${o.pod} (it cannot be removed; it goes when the pod goes) and takes the dumps from it.`,
        confirm: 'Add it',
        deny: 'Cancel',
      },
    }));
    blocks.push(actions(`telemetry-debug:${view.incident}`, buttons));
  }
  const counts = view.finished
    ? `${view.finished.kept} kept, ${view.finished.failed} failed, ${view.finished.skipped} skipped`
    : `${view.items.filter((i) => i.state === 'kept').length} of ${view.items.length} kept so far`;
  blocks.push(
    context(`Evidence store: ${view.location}`, counts, 'SHA-256 of every artifact is on the timeline'),
  );
  return { text: `${title} (${view.incident}, ${view.service}): ${counts}`, blocks };
}

export interface QuarantinePodView {
  name: string;
  ready: boolean;
  node?: string;
  percent?: number;
  removeLabels: string[];
}

export function quarantineView(input: {
  namespace: string;
  pods: QuarantinePodView[];
  policy: string;
  label: string;
  forensicsNamespace?: string;
  ttlMs: number;
  onExpiry: 'return' | 'delete';
  warnings: string[];
  captureAfter: boolean;
}): ChangeView {
  const lines = input.pods.map(
    (p) =>
      `• \`${p.name}\` (${p.ready ? 'ready' : 'not ready'}${p.percent !== undefined ? `, memory ${Math.round(p.percent)}% of limit` : ''}${p.node ? `, ${shortNode(p.node)}` : ''}): remove labels ${p.removeLabels.map((l) => `\`${escapeText(l)}\``).join(', ')}`,
  );
  return {
    fields: [
      ['Pods to isolate', `${input.pods.length} in \`${input.namespace}\``],
      ['Label added', `\`${escapeText(input.label)}\``],
      [
        'NetworkPolicy',
        `\`${input.policy}\`: deny all ingress and egress${input.forensicsNamespace ? `, ingress only from namespace \`${input.forensicsNamespace}\`` : ''} (exec still works)`,
      ],
      [
        'Expiry',
        `after ${formatDuration(input.ttlMs)} the pods are ${input.onExpiry === 'delete' ? 'deleted' : 'returned to their ReplicaSet'} unless \`/telemetry release\` runs first`,
      ],
    ],
    lines: [
      `*The Service and the ReplicaSet let go of these pods; the ReplicaSet starts replacements.*\n${lines.join('\n')}`,
      ...(input.captureAfter
        ? ['Heap dumps and thread traces are taken from them once they are isolated.']
        : []),
    ],
    warnings: input.warnings,
  };
}
