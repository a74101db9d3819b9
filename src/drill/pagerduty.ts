// The simulated PagerDuty (REST API v2 and Events API v2), and the drill's account: one service, the bot's user,
// a token and a routing key made for this run, so nothing a drill pages ever leaves the machine.
import type { DrillBind } from './bind.ts';
import { randomBytes } from 'node:crypto';
import type { PdService } from './pagerduty-account.ts';
import { startPagerDutyServer, type PagerDutyServer } from './pagerduty-server.ts';
import { drillCertificate } from './pagerduty-tls.ts';

export { type PdIncidentRecord, type PdService } from './pagerduty-account.ts';
export {
  REAL_EVENTS_PER_MINUTE,
  REAL_REST_PER_MINUTE,
  startPagerDutyServer,
  type PagerDutyServer,
  type PagerDutyServerOptions,
} from './pagerduty-server.ts';
export { drillCertificate, type DrillTls } from './pagerduty-tls.ts';

/** The service id cloud-safety.example.yml names for payments. */
export const DRILL_PD_SERVICE = 'PWIXJZS';
export const DRILL_PD_FROM = 'cloud-safety-drill@example.com';

export interface DrillPagerDuty {
  server: PagerDutyServer;
  /** PAGERDUTY_* and the example config's routing-key variable, pointing at the simulator. */
  env: Record<string, string>;
  describe: string;
}

/** Starts the drill's PagerDuty; the Events API needs openssl for its certificate, and says so without it. */
export async function startDrillPagerDuty(opts: {
  service: string;
  ingestionMs: number;
  now?: () => number;
  bind?: DrillBind;
}): Promise<DrillPagerDuty> {
  const token = `drill-${randomBytes(10).toString('hex')}`;
  const service: PdService = {
    id: DRILL_PD_SERVICE,
    name: `${opts.service} (drill)`,
    routingKey: randomBytes(16).toString('hex'),
  };
  const tls = drillCertificate(opts.bind?.advertise);
  const server = await startPagerDutyServer({
    token,
    users: [DRILL_PD_FROM],
    services: [service],
    ingestionMs: opts.ingestionMs,
    ...('cert' in tls ? { tls } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.bind ? { bind: opts.bind } : {}),
  });
  const env: Record<string, string> = {
    PAGERDUTY_TOKEN: token,
    PAGERDUTY_FROM: DRILL_PD_FROM,
    PAGERDUTY_API_URL: server.url,
    [`${opts.service.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PD_ROUTING_KEY`]: service.routingKey,
    // Without the simulated Events API, pages go to a closed local port (and fail saying so), never to PagerDuty.
    PAGERDUTY_EVENTS_URL: server.eventsUrl ?? 'https://127.0.0.1:1',
    ...('cert' in tls ? { PAGERDUTY_EVENTS_CA: tls.cert } : {}),
  };
  const events = server.eventsUrl
    ? `Events API ${server.eventsUrl} (incidents appear ${(opts.ingestionMs / 1000).toFixed(1)} s after the 202)`
    : `Events API not simulated: ${'missing' in tls ? tls.missing : ''}`;
  return {
    server,
    env,
    describe: `PagerDuty REST ${server.url} (service ${DRILL_PD_SERVICE}, From ${DRILL_PD_FROM}, 960 requests/min), ${events}`,
  };
}
