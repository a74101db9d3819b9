// Stakeholder status page: each `/incident update` opens (first) or updates the service's Statuspage incident, with
// its component's status from the severity. Statuspage failing never fails the update; the reply says so.
import type { ComponentStatus } from '../../src/adapters/statuspage.ts';
import type { IncidentCaps } from './caps.ts';
import { severityLevel, type Incident } from '../../src/incident.ts';
import { SYSTEM } from '../../src/timeline.ts';

const key = (incidentId: string) => `statuspage:incident:${incidentId}`;

/** SEV1 takes the component down, SEV2 partly, the rest degrade it. */
export function componentStatusFor(incident: Incident): ComponentStatus {
  const level = severityLevel(incident.severity);
  return level === 1 ? 'major_outage' : level === 2 ? 'partial_outage' : 'degraded_performance';
}

/** One sentence for the reply: what happened on Statuspage, or '' when the service has no component there. */
export async function updateStatuspage(
  deps: IncidentCaps,
  incident: Incident,
  text: string,
): Promise<string> {
  const cfg = deps.config.incident.statuspage;
  const componentId = cfg?.components[incident.service];
  const client = deps.adapters.statuspage;
  if (!cfg || !componentId || !client) return '';
  const change = {
    status: 'identified' as const,
    body: deps.redactor.text(text),
    componentId,
    componentStatus: componentStatusFor(incident),
  };
  const existing = await deps.store.get(key(incident.id));
  try {
    const page = existing
      ? await client.updateIncident(cfg.pageId, existing, change)
      : await client.createIncident(cfg.pageId, `${incident.service}: ${incident.title}`, {
          ...change,
          status: 'investigating',
        });
    if (!existing) await deps.store.set(key(incident.id), page.id);
    await deps.incidents.record(incident.id, {
      step: null,
      kind: 'statuspage.updated',
      actor: SYSTEM,
      summary: `Statuspage incident ${page.id} ${existing ? 'updated' : 'opened'}: component ${componentId} ${change.componentStatus}`,
      data: { statuspage: page.id, component: componentId, componentStatus: change.componentStatus },
    });
    return ` Statuspage ${existing ? 'updated' : 'incident opened'}${page.shortlink ? ` (${page.shortlink})` : ''}, component ${change.componentStatus.replace(/_/g, ' ')}.`;
  } catch (err) {
    deps.log.warn({ err, incident: incident.id }, 'could not update Statuspage');
    return ` Statuspage was NOT updated (${(err as Error).message}); post it there by hand or run the update again.`;
  }
}
