// Step O, reconcile: the dry run that plans the copy and asks for approval, and the approved copy.
import type { ActionResult } from '../../src/actions.ts';
import { isClean, reconcileDryRunMessage, reconcileView, type ReconcileChange } from './blocks.ts';
import type { LedgerCaps } from './caps.ts';
import { UsageError } from '../../src/errors.ts';
import {
  LEDGER_RECONCILED,
  type LedgerAuditEventData,
  type LedgerReconcileEventData,
} from '../../src/events.ts';
import type { Incident } from '../../src/incident.ts';
import { type Ledger } from '../../src/ledger.ts';
import { SYSTEM, sha256, type Actor } from '../../src/timeline.ts';
import { runLedgerAudit } from './audit.ts';
import { LEDGER_RECONCILE, incidentOf, registerLedgerAction } from './shared.ts';

interface ReconcileBasis {
  role: string;
  locked: true;
  before: LedgerAuditEventData['counts'];
  keysSha256: string;
}

/** The dry run: audit, then plan the copy and ask for approval. Refuses unless cloud writers are locked. */
export async function requestReconcile(
  deps: LedgerCaps,
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

/** The reconcile handler: copies the planned rows once approved, and rechecks them. */
export function registerReconcile(deps: LedgerCaps): void {
  registerLedgerAction<ReconcileChange>(deps, LEDGER_RECONCILE, reconcileView, {
    async execute(ledger, action, ctx): Promise<ActionResult> {
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
    async recheck(ledger, action) {
      const present = await ledger.countInLegacy(action.change.keys);
      return present === action.change.keys.length
        ? { ok: true, summary: `all ${present} row(s) are in legacy.` }
        : {
            ok: false,
            summary: `${present} of ${action.change.keys.length} row(s) are in legacy; the copy was rolled back or never ran. Run /ledger reconcile again (it is idempotent).`,
          };
    },
  });
}
