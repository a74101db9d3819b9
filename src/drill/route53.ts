// A local Route 53 endpoint speaking the real REST-XML on 127.0.0.1, for drills, tests and benchmarks.
// Compare-and-swap like the real one (a DELETE must match exactly), changes PENDING then INSYNC after a delay,
// paginated listings, health check status, and on demand the real service's rough edges: the account-wide 5 req/s
// throttle, PriorRequestNotComplete while a zone's change is being processed, and a write that commits and then
// answers 500 or drops the connection. Run it: `npm run drill:route53` (see docs/contain.md).
import { DRILL_HEALTH_CHECK, DRILL_ZONE, drillRecords } from './route53-drill-zone.ts';
import { startRoute53Server } from './route53-server.ts';

export {
  DROP_AFTER_COMMIT,
  FAIL_AFTER_COMMIT,
  REAL_RATE_PER_SECOND,
  REAL_SYNC_DELAY_MS,
  type Route53Fault,
  type Route53Operation,
  type Route53Server,
  type Route53ServerOptions,
} from './route53-api.ts';
export { DRILL_HEALTH_CHECK, DRILL_ZONE, drillRecords } from './route53-drill-zone.ts';
export { startRoute53Server } from './route53-server.ts';

if (import.meta.main) {
  const port = Number(process.env.ROUTE53_PORT ?? 4580);
  const syncDelayMs = Number(process.env.ROUTE53_SYNC_DELAY_MS ?? 3000);
  const ttl = Number(process.env.ROUTE53_DRILL_TTL ?? 10);
  const r53 = await startRoute53Server({
    zones: { [DRILL_ZONE]: drillRecords(ttl) },
    healthChecks: { [DRILL_HEALTH_CHECK]: Number(process.env.ROUTE53_LEGACY_HEALTHY ?? 8) },
    syncDelayMs,
    port,
  });
  process.stdout.write(
    `Local Route 53 on ${r53.url} (zone ${DRILL_ZONE}, changes INSYNC after ${syncDelayMs} ms, TTL ${ttl} s).\n` +
      `In another terminal:\n  AWS_ENDPOINT_URL_ROUTE_53=${r53.url} AWS_ACCESS_KEY_ID=drill AWS_SECRET_ACCESS_KEY=drill \\\n` +
      `  CLOUD_SAFETY_CONFIG=docs/drill/cloud-safety.drill.yml npm start\n`,
  );
  let last = 0;
  setInterval(() => {
    for (const change of r53.accepted.slice(last)) {
      const pair = r53.records(DRILL_ZONE).filter((r) => r.setIdentifier !== undefined);
      process.stdout.write(
        `${new Date(change.at).toISOString()} ChangeBatch ${change.id} (${change.changes} changes): ${pair.map((r) => `${r.setIdentifier}=${r.weight}`).join(' ')}\n`,
      );
    }
    last = r53.accepted.length;
  }, 200).unref();
  const stop = () => void r53.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
