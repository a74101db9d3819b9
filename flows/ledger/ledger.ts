// Step O: audit the ledger between legacy and cloud, and lock the cloud writers / reconcile only after approval.
import { takeLease } from '../../src/lease.ts';
import type { Action, ActionResult } from '../../src/actions.ts';
import {
  auditFailedMessage,
  auditProgressMessage,
  auditSummaryMessage,
  isClean,
  lockView,
  reconcileDryRunMessage,
  reconcileView,
  SAMPLES_PER_CLASS,
  unlockView,
  type AuditView,
  type LockChange,
  type ReconcileChange,
} from './blocks.ts';
import type { MessageRef } from '../../src/chat/chat.ts';
import type { Deps } from '../../src/deps.ts';
import { UsageError } from '../../src/errors.ts';
import {
  LEDGER_AUDIT_FAILED,
  LEDGER_AUDIT_STARTED,
  LEDGER_AUDITED,
  LEDGER_LOCKED,
  LEDGER_RECONCILED,
  LEDGER_UNLOCKED,
  type LedgerAuditEventData,
  type LedgerAuditFailedEventData,
  type LedgerLockEventData,
  type LedgerReconcileEventData,
} from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import {
  type AuditResult,
  type CdcHealth,
  type DifferenceClass,
  type Ledger,
  type LedgerDifference,
  type TablePrivilege,
} from '../../src/ledger.ts';
import { openCsvEvidence, type CsvArtifact } from './csv.ts';
import { getJson } from '../../src/store/store.ts';
import { SYSTEM, sha256, type Actor } from '../../src/timeline.ts';

export const LEDGER_LOCK = 'ledger.lock';
export const LEDGER_UNLOCK = 'ledger.unlock';
export const LEDGER_RECONCILE = 'ledger.reconcile';

/** CDC can't have carried a row written more recently than this, whatever its reported lag. */
const MIN_IN_FLIGHT_MS = 60_000;
const AUDIT_LEASE_MS = 60_000;

const lockKey = (service: string) => `ledger:${service}:lock`;
const auditLeaseKey = (service: string) => `ledger:${service}:audit`;

/** What the bot remembers of a lock, so unlock grants back exactly what was revoked. */
export interface LockRecord {
  role: string;
  table: string;
  revoked: TablePrivilege[];
  lockedAt: string;
  action: string;
}

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

/** The service's ledger, or a usage error that says how to configure one. Never touches a database. */
export function noLedger(service: string, usage: string): UsageError {
  return new UsageError(
    `${service} has no ledger configured. Add services.${service}.ledger (legacy, cloud, table, key, columns, updatedAt) to cloud-safety.yml; docs/ledger.md has an example.`,
    usage,
  );
}

export function ledgerFor(deps: Deps, service: string, usage: string): Ledger {
  const ledger = deps.adapters.ledger?.get(service);
  if (!ledger) throw noLedger(service, usage);
  return ledger;
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
export async function runLedgerAudit(deps: Deps, input: AuditRunInput): Promise<AuditRun> {
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
    const edit = (message: Parameters<typeof chat.update>[1]) =>
      throttle.schedule(`ledger-audit:${ref.channel}:${ref.ts}`, async () => {
        try {
          await chat.update(ref, message);
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
        onProgress: (progress) => edit(auditProgressMessage(view, progress)),
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

interface ReconcileBasis {
  role: string;
  locked: true;
  before: LedgerAuditEventData['counts'];
  keysSha256: string;
}

/** The dry run: audit, then plan the copy and ask for approval. Refuses unless cloud writers are locked. */
export async function requestReconcile(
  deps: Deps,
  input: { incident: Incident; service: string; ledger: Ledger; since: Date; actor: Actor; usage: string },
): Promise<string> {
  const { incident, service, ledger } = input;
  const section = deps.config.services[service]?.ledger;
  if (!section?.lock) {
    throw new UsageError(
      `Reconcile needs services.${service}.ledger.lock.role (the cloud writer role) so it can check the writers are locked first. Add it to cloud-safety.yml.`,
      input.usage,
    );
  }
  const writers = await ledger.writerState();
  if (writers.canWrite) {
    throw new UsageError(
      `Refused: the cloud writers (role ${writers.role}) can still write to ${writers.table}. Lock them first with \`/ledger lock\`, so nothing new lands in the cloud ledger while rows are copied. Nothing was changed.`,
      input.usage,
    );
  }
  const run = await runLedgerAudit(deps, {
    incident,
    service,
    ledger,
    since: input.since,
    actor: input.actor,
    title: 'Reconcile dry run',
    keyName: section.key,
    maxDifferences: section.maxDifferences,
  });
  if (!run.ok) return `The dry run failed (${run.error}); nothing was requested or changed.`;
  if (run.result.bulkDivergence) {
    return 'Refused: the dry run found bulk divergence, so the rows to copy are not known. Fix the sync or audit a shorter window first; nothing was requested.';
  }
  const keys = run.missingInLegacy.filter((k) => !run.partialOnCloud.has(k));
  const skipped = run.missingInLegacy.length - keys.length;
  if (keys.length === 0) {
    return `Nothing to copy: the dry run found no missing_in_legacy rows${skipped > 0 ? ` that are whole (${skipped} are partial on cloud and are left for humans)` : ''}. Nothing was requested.`;
  }
  const plan = await ledger.planReconcile(keys);
  const change: ReconcileChange = {
    table: section.table,
    since: input.since.toISOString(),
    keys,
    keyName: section.key,
    columns: plan.columns,
    preview: plan.preview,
    warnings: plan.warnings,
    role: writers.role,
  };
  await deps.chat.post(incident.channel, reconcileDryRunMessage(service, change, skipped), {
    threadTs: run.message.ts,
  });
  const basis: ReconcileBasis = {
    role: writers.role,
    locked: true,
    before: run.result.counts,
    keysSha256: sha256(keys.join('\n')),
  };
  const action = await deps.approvals.request<ReconcileChange>({
    kind: LEDGER_RECONCILE,
    incident,
    step: 'O',
    summary: `Copy ${keys.length} missing_in_legacy row(s) of ${service} from cloud into legacy`,
    basis,
    change,
    requester: input.actor,
  });
  return `Dry run done: ${keys.length} row(s) would be copied. Approval requested (${action.id}); a second person must approve it.`;
}

/** Asks to lock the cloud writers out of the ledger table. */
export async function requestLock(
  deps: Deps,
  input: { incident: Incident; service: string; ledger: Ledger; actor: Actor; usage: string },
): Promise<string> {
  const { incident, service, ledger } = input;
  const writers = await ledger.writerState();
  if (!writers.canWrite) {
    return `The cloud writers (role ${writers.role}) already cannot write to ${writers.table}; nothing to lock.`;
  }
  if (writers.granted.length === 0 || writers.reasons.length > 0) {
    throw new UsageError(
      `Refused: revoking grants would not lock ${writers.role} out of ${writers.table}: ${writers.reasons.join('; ') || 'no direct grant to revoke'}. Remove that path by hand (see docs/ledger.md); nothing was changed.`,
      input.usage,
    );
  }
  const change: LockChange = {
    role: writers.role,
    table: writers.table,
    revoke: writers.granted,
    sessions: writers.sessions,
  };
  const action = await deps.approvals.request<LockChange>({
    kind: LEDGER_LOCK,
    incident,
    step: 'O',
    summary: `Lock cloud writers (${writers.role}) out of ${service}'s ledger: revoke ${writers.granted.map((g) => g.privilege).join(', ')}, end ${writers.sessions} session(s)`,
    basis: { role: writers.role, table: writers.table, granted: writers.granted },
    change,
    requester: input.actor,
  });
  return `Approval requested (${action.id}) to lock ${writers.role} out of ${writers.table}; a second person must approve it.`;
}

export async function requestUnlock(
  deps: Deps,
  input: { incident: Incident; service: string; ledger: Ledger; actor: Actor; usage: string },
): Promise<string> {
  const { incident, service } = input;
  const record = await getJson<LockRecord>(deps.store, lockKey(service));
  if (!record) {
    throw new UsageError(
      `cloud-safety has no lock on record for ${service}, so it does not know what to grant back. If the writers were locked by hand, restore their grants by hand.`,
      input.usage,
    );
  }
  const change: LockChange & { lockedAt: string } = {
    role: record.role,
    table: record.table,
    revoke: record.revoked,
    sessions: 0,
    lockedAt: record.lockedAt,
  };
  const action = await deps.approvals.request({
    kind: LEDGER_UNLOCK,
    incident,
    step: 'O',
    summary: `Unlock cloud writers (${record.role}) on ${service}'s ledger: grant back ${record.revoked.map((r) => r.privilege).join(', ')}`,
    basis: record,
    change,
    requester: input.actor,
  });
  return `Approval requested (${action.id}) to grant ${record.role} its privileges back; a second person must approve it.`;
}

function ledgerOf(deps: Deps, action: Action): Ledger {
  const ledger = deps.adapters.ledger?.get(action.service);
  if (!ledger) throw new Error(`${action.service} has no ledger configured any more`);
  return ledger;
}

async function incidentOf(deps: Deps, action: Action): Promise<Incident> {
  const incident = await deps.incidents.get(action.incident);
  if (!incident) throw new Error(`incident ${action.incident} is gone`);
  return incident;
}

/** Registers lock, unlock and reconcile with the approval flow. */
export function registerLedgerActions(deps: Deps): void {
  deps.approvals.register<LockChange>({
    kind: LEDGER_LOCK,
    stepOnSuccess: 'in_progress',
    describe: (action) => lockView(action.change),
    async execute(action, ctx): Promise<ActionResult> {
      const ledger = ledgerOf(deps, action);
      // The adapter refuses inside its transaction when the grants moved since the request.
      const result = await ledger.lock(action.change.revoke);
      const record: LockRecord = {
        role: action.change.role,
        table: action.change.table,
        revoked: result.revoked,
        lockedAt: deps.now().toISOString(),
        action: action.id,
      };
      await deps.store.set(lockKey(action.service), JSON.stringify(record));
      const privileges = result.revoked.map((p) => p.privilege);
      const data: LedgerLockEventData = {
        action: action.id,
        role: record.role,
        table: record.table,
        privileges,
        terminated: result.terminated + result.terminatedAfterCommit,
      };
      const seen = result.observed ? { observed: result.observed } : {};
      await deps.incidents.record(action.incident, {
        step: 'O',
        kind: LEDGER_LOCKED,
        actor: SYSTEM,
        summary: `Locked ${record.role} out of ${record.table}: revoked ${privileges.join(', ')}, ended ${data.terminated} session(s)${result.observed ? `; seen by reading back: ${result.observed}` : ''}`,
        data: { ...data, ...seen },
      });
      await ctx.progress(`revoked ${privileges.join(', ')}; ended ${data.terminated} session(s)`);
      return {
        ok: true,
        summary: `Revoked ${privileges.join(', ')} from ${record.role} on ${record.table} and ended ${result.terminated} session(s)${result.terminatedAfterCommit > 0 ? ` (+${result.terminatedAfterCommit} that slipped in before the commit)` : ''}.${result.observed ? ` Seen by reading back: ${result.observed}.` : ''} \`/ledger unlock\` grants back exactly these.`,
        data: { ...data, ...seen },
      };
    },
    async recheck(action) {
      const writers = await ledgerOf(deps, action).writerState();
      return writers.canWrite
        ? {
            ok: false,
            summary: `${writers.role} can still write to ${writers.table}; the lock did not take. Run /ledger lock again.`,
          }
        : {
            ok: true,
            summary: `${writers.role} cannot write to ${writers.table}. Note: no lock record was saved; unlock by hand (${action.change.revoke.map((p) => p.privilege).join(', ')}).`,
          };
    },
  });

  deps.approvals.register<LockChange & { lockedAt: string }>({
    kind: LEDGER_UNLOCK,
    stepOnSuccess: 'in_progress',
    describe: (action) => unlockView(action.change),
    async execute(action, ctx): Promise<ActionResult> {
      const ledger = ledgerOf(deps, action);
      const raw = await deps.store.get(lockKey(action.service));
      const basis = action.basis as LockRecord;
      if (raw === null || (JSON.parse(raw) as LockRecord).action !== basis.action) {
        return {
          ok: false,
          summary:
            'The lock record changed since the request (unlocked or locked again); nothing was granted.',
        };
      }
      await ledger.unlock(action.change.revoke);
      await deps.store.compareAndSet(lockKey(action.service), raw, null);
      const privileges = action.change.revoke.map((p) => p.privilege);
      const data: LedgerLockEventData = {
        action: action.id,
        role: action.change.role,
        table: action.change.table,
        privileges,
      };
      await deps.incidents.record(action.incident, {
        step: 'O',
        kind: LEDGER_UNLOCKED,
        actor: SYSTEM,
        summary: `Unlocked ${action.change.role} on ${action.change.table}: granted back ${privileges.join(', ')}`,
        data: { ...data },
      });
      await ctx.progress(`granted back ${privileges.join(', ')}`);
      return {
        ok: true,
        summary: `Granted ${privileges.join(', ')} back to ${action.change.role} on ${action.change.table}.`,
        data: { ...data },
      };
    },
    async recheck(action) {
      const writers = await ledgerOf(deps, action).writerState();
      const back = action.change.revoke.every((p) =>
        writers.granted.some((g) => g.privilege === p.privilege),
      );
      return back
        ? {
            ok: true,
            summary: `${writers.role} holds ${action.change.revoke.map((p) => p.privilege).join(', ')} again.`,
          }
        : {
            ok: false,
            summary: `${writers.role} does not hold its privileges back; run /ledger unlock again.`,
          };
    },
  });

  deps.approvals.register<ReconcileChange>({
    kind: LEDGER_RECONCILE,
    stepOnSuccess: 'in_progress',
    describe: (action) => reconcileView(action.change),
    async execute(action, ctx): Promise<ActionResult> {
      const ledger = ledgerOf(deps, action);
      const basis = action.basis as ReconcileBasis;
      const writers = await ledger.writerState();
      if (writers.canWrite) {
        return {
          ok: false,
          summary: `The cloud writers (${writers.role}) can write again since the dry run; nothing was copied. Lock them with /ledger lock and reconcile again.`,
        };
      }
      const keys = action.change.keys;
      await ctx.progress(`copying ${keys.length} row(s) into legacy in one transaction`);
      const copied = await ledger.reconcile(keys);
      await ctx.progress(
        `copied ${copied.inserted} row(s); ${copied.alreadyPresent} were already in legacy, ${copied.goneFromCloud} no longer in cloud`,
      );
      const incident = await incidentOf(deps, action);
      const section = deps.config.services[action.service]?.ledger;
      const reaudit = await runLedgerAudit(deps, {
        incident,
        service: action.service,
        ledger,
        since: new Date(action.change.since),
        actor: SYSTEM,
        title: 'Re-audit after reconcile',
        keyName: action.change.keyName,
        maxDifferences: section?.maxDifferences ?? 10_000,
      }).catch((err: unknown) => ({ ok: false as const, error: (err as Error).message }));
      const data: LedgerReconcileEventData = {
        action: action.id,
        inserted: copied.inserted,
        alreadyPresent: copied.alreadyPresent,
        goneFromCloud: copied.goneFromCloud,
        before: basis.before,
        ...(reaudit.ok ? { after: reaudit.result.counts } : { reauditError: reaudit.error }),
      };
      const before = basis.before;
      const after = reaudit.ok ? reaudit.result.counts : undefined;
      const change = (cls: keyof typeof before) => `${cls} ${before[cls]} → ${after ? after[cls] : '?'}`;
      const summary = `Copied ${copied.inserted} row(s) into legacy (${copied.alreadyPresent} already there, ${copied.goneFromCloud} gone from cloud). ${change('missing_in_legacy')}; ${change('mismatched')}; ${change('partial')}; ${change('invariant')}.${after ? ' Mismatched and partial rows are left for humans (see the CSV).' : ` The re-audit FAILED (${reaudit.ok ? '' : reaudit.error}); run /ledger audit.`}`;
      await deps.incidents.record(action.incident, {
        step: 'O',
        kind: LEDGER_RECONCILED,
        actor: SYSTEM,
        summary,
        data: { ...data },
      });
      return {
        ok: true,
        summary,
        data: { ...data },
        stepState: reaudit.ok && isClean(reaudit.result) ? 'done' : 'in_progress',
      };
    },
    async recheck(action) {
      const present = await ledgerOf(deps, action).countInLegacy(action.change.keys);
      return present === action.change.keys.length
        ? { ok: true, summary: `all ${present} row(s) are in legacy.` }
        : {
            ok: false,
            summary: `${present} of ${action.change.keys.length} row(s) are in legacy; the copy was rolled back or never ran. Run /ledger reconcile again (it is idempotent).`,
          };
    },
  });
}
