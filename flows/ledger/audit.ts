// Step O, `/ledger audit`: compares legacy and cloud range by range, writes the CSV of differences and reports.
import { takeLease } from '../../src/lease.ts';
import {
  auditFailedMessage,
  auditProgressMessage,
  auditSummaryMessage,
  isClean,
  SAMPLES_PER_CLASS,
  type AuditView,
} from './blocks.ts';
import type { MessageRef } from '../../src/chat/chat.ts';
import type { LedgerCaps } from './caps.ts';
import { UsageError } from '../../src/errors.ts';
import {
  LEDGER_AUDIT_FAILED,
  LEDGER_AUDIT_STARTED,
  LEDGER_AUDITED,
  type LedgerAuditEventData,
  type LedgerAuditFailedEventData,
} from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import {
  type AuditResult,
  type CdcHealth,
  type DifferenceClass,
  type Ledger,
  type LedgerDifference,
} from '../../src/ledger.ts';
import { openCsvEvidence, type CsvArtifact } from './csv.ts';
import { SYSTEM, type Actor } from '../../src/timeline.ts';
import { AUDIT_LEASE_MS, MIN_IN_FLIGHT_MS, auditLeaseKey } from './shared.ts';

export const CSV_HEADER = ['class', 'key', 'side', 'columns', 'detail', 'legacy', 'cloud'];

function csvRow(d: LedgerDifference): (string | null)[] {
  return [
    d.class,
    d.key,
    d.side ??
      (d.class === 'mismatched'
        ? 'both'
        : d.class === 'missing_in_legacy'
          ? 'cloud'
          : d.class === 'missing_in_cloud'
            ? 'legacy'
            : ''),
    d.columns.join(';'),
    d.detail ?? '',
    d.legacy ? JSON.stringify(d.legacy) : '',
    d.cloud ? JSON.stringify(d.cloud) : '',
  ];
}

export interface AuditRunInput {
  incident: Incident;
  service: string;
  ledger: Ledger;
  since: Date;
  actor: Actor;
  /** Shown instead of "Ledger audit" (dry run, re-audit). */
  title?: string;
  keyName: string;
  maxDifferences: number;
  /** Called once the start is on the timeline, before any database is read (the command replies here). */
  onStarted?: () => Promise<void>;
}

export type AuditRun =
  | {
      ok: true;
      result: AuditResult;
      cdc: CdcHealth | undefined;
      csv: CsvArtifact | undefined;
      missingInLegacy: string[];
      partialOnCloud: Set<string>;
      message: MessageRef;
    }
  | { ok: false; error: string; message: MessageRef };

/**
 * Runs one audit end to end: timeline first, a progress message edited as ranges finish, the CSV written as
 * differences come, the summary, and a `ledger.audited` event. A failure is reported as failed, never clean.
 */
export async function runLedgerAudit(deps: LedgerCaps, input: AuditRunInput): Promise<AuditRun> {
  const { incidents, chat, throttle, store, instanceId, config } = deps;
  const { incident, service, ledger, since } = input;
  const view: AuditView = {
    service,
    target: ledger.describe(),
    keyName: input.keyName,
    since: since.toISOString(),
    ...(input.title ? { title: input.title } : {}),
  };
  const lease = await takeLease(store, auditLeaseKey(service), {
    owner: instanceId,
    ttlMs: AUDIT_LEASE_MS,
    onLost: (reason) => deps.log.error({ service, reason }, 'lost the ledger audit lease'),
  });
  if (!lease) {
    throw new UsageError(
      `An audit of ${service}'s ledger is already running; wait for its summary in the channel, then run it again if needed.`,
    );
  }
  const started = deps.now();
  try {
    await incidents.record(incident.id, {
      step: 'O',
      kind: LEDGER_AUDIT_STARTED,
      actor: input.actor,
      summary: `${input.actor.name} started ${input.title ? input.title.toLowerCase() : 'a ledger audit'} of ${service} since ${view.since}`,
      data: { since: view.since, target: view.target },
      stepState: 'in_progress',
    });
    await input.onStarted?.();
    const ref = await chat.post(incident.channel, auditProgressMessage(view, undefined, 'checking CDC…'));
    // The message is built when the edit runs: progress comes far more often than the throttle lets edits out.
    type Edit = Parameters<typeof chat.update>[1];
    const edit = (message: Edit | (() => Edit)) =>
      throttle.schedule(`ledger-audit:${ref.channel}:${ref.ts}`, async () => {
        try {
          await chat.update(ref, typeof message === 'function' ? message() : message);
        } catch (err) {
          deps.log.warn({ err, service }, 'could not edit the ledger audit message');
        }
      });

    const cdc = await ledger.cdcHealth();
    const inFlightMs = Math.max(MIN_IN_FLIGHT_MS, Math.ceil((cdc?.lagSeconds ?? 0) * 1000));
    const csv = openCsvEvidence(config.evidence, incident.id, 'ledger-audit', started, CSV_HEADER);
    const samples: Partial<Record<DifferenceClass, LedgerDifference[]>> = {};
    const missingInLegacy: string[] = [];
    const partialOnCloud = new Set<string>();
    let result: AuditResult;
    try {
      result = await ledger.audit({
        since,
        inFlightMs,
        onProgress: (progress) => edit(() => auditProgressMessage(view, progress)),
        onDifference: async (d) => {
          await csv.write(csvRow(d));
          const list = (samples[d.class] ??= []);
          if (list.length < SAMPLES_PER_CLASS) list.push(d);
          if (d.class === 'missing_in_legacy') missingInLegacy.push(d.key);
          if (d.class === 'partial' && d.side === 'cloud') partialOnCloud.add(d.key);
        },
      });
    } catch (err) {
      const artifact = await csv.close().catch(() => undefined);
      const error = deps.redactor.text(
        err instanceof Error && 'service' in err
          ? `${String(err.service)}: ${err.message}`
          : (err as Error).message,
      );
      const durationMs = deps.now().getTime() - started.getTime();
      const data: LedgerAuditFailedEventData = { since: view.since, error, durationMs };
      await incidents.record(incident.id, {
        step: 'O',
        kind: LEDGER_AUDIT_FAILED,
        actor: SYSTEM,
        summary: `${input.title ?? 'Ledger audit'} of ${service} FAILED: ${error}`,
        data: { ...data, ...(artifact ? { partialCsv: artifact.uri } : {}) },
      });
      edit(auditFailedMessage(view, error, durationMs));
      deps.log.warn({ service, incident: incident.id, err }, 'ledger audit failed');
      return { ok: false, error, message: ref };
    }
    const artifact = await csv.close();
    const counts = result.counts;
    const data: LedgerAuditEventData = {
      counts,
      rowsCompared: result.rowsCompared,
      durationMs: Math.round(result.durationMs),
      since: result.since,
      csv: artifact.uri,
      ...(result.bulkDivergence ? { bulkDivergence: true } : {}),
      ...(cdc
        ? {
            cdc: {
              healthy: cdc.healthy,
              detail: cdc.detail,
              ...(cdc.lagSeconds !== undefined ? { lagSeconds: cdc.lagSeconds } : {}),
            },
          }
        : {}),
    };
    const clean = isClean(result);
    const countsText = `missing_in_legacy ${counts.missing_in_legacy}, missing_in_cloud ${counts.missing_in_cloud}, mismatched ${counts.mismatched}, partial ${counts.partial}, invariant ${counts.invariant}, in flight ${counts.in_flight}`;
    await incidents.record(incident.id, {
      step: 'O',
      kind: LEDGER_AUDITED,
      actor: SYSTEM,
      summary: `${input.title ?? 'Ledger audit'} of ${service}: ${result.bulkDivergence ? 'BULK DIVERGENCE, ' : clean ? 'clean, ' : ''}${countsText} over ${result.rowsCompared} rows${cdc && !cdc.healthy ? `; CDC NOT HEALTHY: ${cdc.detail}` : ''}`,
      data: {
        ...data,
        sha256: artifact.sha256,
        rows: result.rows,
        method: result.method,
        ...(input.title ? { title: input.title } : {}),
      },
      stepState: clean && (!cdc || cdc.healthy) ? 'done' : 'in_progress',
    });
    edit(
      auditSummaryMessage({
        ...view,
        result,
        cdc,
        samples,
        ...(artifact.rows > 0 ? { csv: artifact } : {}),
        maxDifferences: input.maxDifferences,
      }),
    );
    if (artifact.rows > 0) {
      try {
        await chat.upload(
          incident.channel,
          {
            filename: artifact.path.split('/').pop() ?? 'ledger-audit.csv',
            title: `Ledger audit of ${service}: every difference`,
            content: artifact.path,
          },
          { threadTs: ref.ts },
        );
      } catch (err) {
        deps.log.warn({ err, service }, 'could not upload the ledger audit CSV');
      }
    }
    return { ok: true, result, cdc, csv: artifact, missingInLegacy, partialOnCloud, message: ref };
  } finally {
    await lease.release();
  }
}
