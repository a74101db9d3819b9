// Stakeholder status page: each `/incident update` opens (first) or updates the service's Statuspage incident, with
// its component's status from the severity; `/incident resolve` resolves it and sets the component operational.
// Statuspage failing never fails the update; the reply says so. After a failed or unanswered write the page is
// read again and the reply says what is there: a create whose answer was lost is adopted, not made twice.
import type {
  ComponentStatus,
  StatusPage,
  StatuspageChange,
  StatuspageIncident,
} from '../../src/adapters/statuspage.ts';
import type { Deps } from '../../src/deps.ts';
import { severityLevel, type Incident } from '../../src/incident.ts';
import { withLease } from '../../src/lease.ts';
import { SYSTEM } from '../../src/timeline.ts';

const key = (incidentId: string) => `statuspage:incident:${incidentId}`;

/** SEV1 takes the component down, SEV2 partly, the rest degrade it. */
export function componentStatusFor(incident: Incident): ComponentStatus {
  const level = severityLevel(incident.severity);
  return level === 1 ? 'major_outage' : level === 2 ? 'partial_outage' : 'degraded_performance';
}

/** One sentence for the `/incident update` reply: what happened on Statuspage, or '' when there is no component. */
export function updateStatuspage(deps: Deps, incident: Incident, text: string): Promise<string> {
  return publish(deps, incident, {
    status: 'identified',
    body: text,
    componentStatus: componentStatusFor(incident),
  });
}

/** One sentence for the `/incident resolve` reply: the Statuspage incident resolved, or '' when none was opened. */
export function resolveStatuspage(deps: Deps, incident: Incident, summary: string): Promise<string> {
  const body = summary || `Resolved: ${incident.service} is operating normally.`;
  return publish(deps, incident, { status: 'resolved', body, componentStatus: 'operational' });
}

type Change = Omit<StatuspageChange, 'componentId'>;

interface Target {
  deps: Deps;
  incident: Incident;
  client: StatusPage;
  pageId: string;
  /** The Statuspage incident's name: how a create whose answer was lost is found again. */
  name: string;
  change: StatuspageChange;
}

async function publish(deps: Deps, incident: Incident, change: Change): Promise<string> {
  const cfg = deps.config.incident.statuspage;
  const componentId = cfg?.components[incident.service];
  const client = deps.adapters.statuspage;
  if (!cfg || !componentId || !client) return '';
  const target: Target = {
    deps,
    incident,
    client,
    pageId: cfg.pageId,
    name: `${incident.service}: ${incident.title}`,
    change: { ...change, body: deps.redactor.text(change.body), componentId },
  };
  // One writer per incident across replicas: two updates at once must not open two Statuspage incidents.
  const run = await withLease(
    deps.store,
    `lease:statuspage:${incident.id}`,
    { owner: deps.instanceId, ttlMs: 30_000, waitMs: 25_000 },
    () => send(target),
  );
  if (!run.held)
    return ' Statuspage was NOT updated (another update of it is still running); run the update again in a minute.';
  return run.value;
}

async function send(t: Target): Promise<string> {
  const resolving = t.change.status === 'resolved';
  let id: string | undefined;
  try {
    id = (await t.deps.store.get(key(t.incident.id))) ?? (await adoptLost(t));
  } catch (err) {
    return notUpdated(t, err, 'the page could not be read before writing');
  }
  if (!id && resolving) return '';
  try {
    const page = id
      ? await t.client.updateIncident(t.pageId, id, t.change)
      : await t.client.createIncident(t.pageId, t.name, { ...t.change, status: 'investigating' });
    if (!id) await t.deps.store.set(key(t.incident.id), page.id);
    return await done(t, page, id ? (resolving ? 'resolved' : 'updated') : 'opened');
  } catch (err) {
    return await afterFailure(t, id, err);
  }
}

/** A Statuspage incident of ours that is open but not remembered (a create whose answer or store write was lost). */
async function adoptLost(t: Target): Promise<string | undefined> {
  const open = (await t.client.listUnresolved(t.pageId)).find((i) => i.name === t.name);
  if (open) await t.deps.store.set(key(t.incident.id), open.id);
  return open?.id;
}

/** The write failed or went unanswered: read the page and report what is there, never what was meant. */
async function afterFailure(t: Target, id: string | undefined, err: unknown): Promise<string> {
  try {
    if (!id) {
      const adopted = await adoptLost(t);
      if (adopted) {
        const page = await t.client.getIncident(t.pageId, adopted);
        return await done(t, page, 'opened', err);
      }
      return notUpdated(t, err, 'no incident of this name is open there');
    }
    const page = await t.client.getIncident(t.pageId, id);
    const landed =
      page.latestBody === t.change.body && (t.change.status !== 'resolved' || page.status === 'resolved');
    if (landed) return await done(t, page, t.change.status === 'resolved' ? 'resolved' : 'updated', err);
    return notUpdated(t, err, `incident ${id} still shows ${page.status || 'its last update'}`);
  } catch (readErr) {
    t.deps.log.warn(
      { err: readErr, incident: t.incident.id },
      'could not read Statuspage after a failed write',
    );
    return ` Statuspage may or may not have it: the write failed (${(err as Error).message}) and reading the page back failed too (${(readErr as Error).message}). Look at the page before posting there by hand, so it is not posted twice.`;
  }
}

function notUpdated(t: Target, err: unknown, seen: string): string {
  t.deps.log.warn({ err, incident: t.incident.id }, 'could not update Statuspage');
  return ` Statuspage was NOT updated (${(err as Error).message}; read back: ${seen}); post it there by hand or run the ${t.change.status === 'resolved' ? 'resolve' : 'update'} again.`;
}

async function done(
  t: Target,
  page: StatuspageIncident,
  what: 'opened' | 'updated' | 'resolved',
  failure?: unknown,
): Promise<string> {
  const { componentId, componentStatus } = t.change;
  const despite = failure ? ` (Statuspage answered ${(failure as Error).message}, but it is there)` : '';
  await t.deps.incidents.record(t.incident.id, {
    step: null,
    kind: 'statuspage.updated',
    actor: SYSTEM,
    summary: `Statuspage incident ${page.id} ${what}: component ${componentId} ${componentStatus}${despite}`,
    data: { statuspage: page.id, component: componentId, componentStatus },
  });
  const link = page.shortlink ? ` (${page.shortlink})` : '';
  const headline =
    what === 'opened' ? 'incident opened' : what === 'resolved' ? 'incident resolved' : 'updated';
  return ` Statuspage ${headline}${link}, component ${componentStatus.replace(/_/g, ' ')}.${despite}`;
}
