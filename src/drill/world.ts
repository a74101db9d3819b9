// The embedded drill world: simulated Route 53, Kubernetes, Prometheus and two ledger databases, started in the
// bot's own process; the production adapters reach them through the same endpoint overrides a user would set.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { FakeCluster, NAMESPACE, type PodSpecInput } from './kubernetes.ts';
import { startPrometheusServer } from './prometheus.ts';
import {
  DRILL_HEALTH_CHECK,
  DRILL_ZONE,
  REAL_SYNC_DELAY_MS,
  drillRecords,
  startRoute53Server,
} from './route53.ts';

export interface DrillWorldOptions {
  /** Compresses the story: 1.0 runs Route 53's real 60 s propagation, 0.05 a 3 s one (the console default). */
  timeFactor: number;
  /** Where the machine's PostgreSQL is (default postgres://postgres@127.0.0.1:5432/postgres). */
  postgresUrl?: string;
}

export interface DrillWorld {
  /** Environment overrides that point the production adapters at the simulators. */
  env: Record<string, string>;
  /** Base URL of the simulated Prometheus query API. */
  prometheusUrl: string;
  /** One line per service, for the banner. */
  describe: string[];
  stop(): Promise<void>;
}

/** Is there anything that would make the AWS SDK talk to a real account? */
export function hasCloudCredentials(env: NodeJS.ProcessEnv): boolean {
  return Boolean(
    env.AWS_ACCESS_KEY_ID ||
    env.AWS_PROFILE ||
    env.AWS_WEB_IDENTITY_TOKEN_FILE ||
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI ||
    env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ||
    env.AWS_ENDPOINT_URL_ROUTE_53 ||
    env.KUBECONFIG ||
    env.KUBERNETES_SERVICE_HOST,
  );
}

const MiB = 1024 * 1024;
const LIMIT = '2Gi';

/** The seed's story: three cloud pods leaking memory, two of them already OOMKilled once. */
function drillPods(): { spec: PodSpecInput; usage: string }[] {
  const oom = (minutesAgo: number) => ({
    reason: 'OOMKilled',
    exitCode: 137,
    finishedAt: new Date(Date.now() - minutesAgo * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  });
  return [
    {
      spec: {
        name: 'payments-cloud-7d9f8b6c5-x2k4q',
        restarts: 3,
        lastTermination: oom(4),
        memoryLimit: LIMIT,
      },
      usage: '1990Mi',
    },
    {
      spec: {
        name: 'payments-cloud-7d9f8b6c5-m8n3v',
        restarts: 2,
        lastTermination: oom(9),
        memoryLimit: LIMIT,
      },
      usage: '1905Mi',
    },
    { spec: { name: 'payments-cloud-7d9f8b6c5-p5r7t', restarts: 0, memoryLimit: LIMIT }, usage: '1310Mi' },
  ].map(({ spec, usage }) => ({
    spec: { ...spec, labels: { app: 'payments', track: 'cloud', 'pod-template-hash': '7d9f8b6c5' } },
    usage,
  }));
}

async function startKubernetes(): Promise<{ cluster: FakeCluster; kubeconfig: string; dir: string }> {
  const cluster = new FakeCluster();
  // exec is slow to start on a real kubelet (container runtime round trip); the bot must not assume otherwise.
  cluster.execStartMs = 400;
  const pods = drillPods();
  // A heap dump of realistic shape: gzip-sized tens of MiB, streamed through exec like the real kubelet does.
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  for (const { spec } of pods) cluster.addPod(spec.name, { heap: { size: 48 * MiB, block } });
  cluster.serve({
    pods: () => pods.map((p) => p.spec),
    usage: () => Object.fromEntries(pods.map((p) => [p.spec.name, p.usage])),
    events: () =>
      pods
        .filter((p) => p.spec.lastTermination)
        .map((p) => ({
          pod: p.spec.name,
          reason: 'BackOff',
          message: 'Back-off restarting failed container app in pod after OOMKilled',
          count: p.spec.restarts ?? 1,
          last: p.spec.lastTermination?.finishedAt ?? new Date().toISOString(),
        })),
    log: (pod) =>
      `${new Date().toISOString()} WARN  [${pod}] GC overhead limit approaching: heap 97% after full GC\n` +
      `${new Date().toISOString()} ERROR [${pod}] java.lang.OutOfMemoryError: Java heap space\n` +
      `\tat com.example.payments.SettlementCache.put(SettlementCache.java:88)\n`,
  });
  await cluster.start();
  const dir = mkdtempSync(join(tmpdir(), 'cs-drill-'));
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, cluster.kubeConfig().exportConfig());
  return { cluster, kubeconfig, dir };
}

const LEDGER_DDL = `
CREATE TABLE public.ledger_entries (
  id bigint PRIMARY KEY, txn_id bigint NOT NULL, account text, side text NOT NULL,
  amount numeric(14,2) NOT NULL, currency char(3) NOT NULL, payload jsonb, updated_at timestamptz NOT NULL);
INSERT INTO public.ledger_entries
  SELECT g, (g + 1) / 2, 'acct-' || (g % 97), CASE WHEN g % 2 = 1 THEN 'debit' ELSE 'credit' END,
         ((g + 1) / 2 % 500) + 0.99, 'EUR', jsonb_build_object('ref', 'txn' || ((g + 1) / 2)),
         now() - ((2000 - g) * interval '3 seconds')
  FROM generate_series(1, 2000) g;`;

/** Diverges the cloud copy the way the seed's story has it: rows legacy never got, a mismatch, a half-write, an unbalanced pair. */
const CLOUD_DIVERGENCE = `
INSERT INTO public.ledger_entries VALUES
  (2001, 1001, 'acct-7', 'debit', 49.90, 'EUR', '{"ref":"txn1001"}', now() - interval '2 minutes'),
  (2002, 1001, 'acct-8', 'credit', 49.90, 'EUR', '{"ref":"txn1001"}', now() - interval '2 minutes'),
  (2003, 1002, 'acct-9', 'debit', 12.00, 'EUR', '{"ref":"txn1002"}', now() - interval '1 minute'),
  (2004, 1002, 'acct-10', 'credit', 12.00, 'EUR', '{"ref":"txn1002"}', now() - interval '1 minute');
UPDATE public.ledger_entries SET amount = amount + 10 WHERE id IN (1501, 1502);
UPDATE public.ledger_entries SET payload = '{"ref":"txn-rewritten"}' WHERE id = 1700;
UPDATE public.ledger_entries SET payload = NULL WHERE id = 1801;
UPDATE public.ledger_entries SET amount = amount + 1 WHERE id = 1901;`;

async function query(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Is a process with this id running on this machine? (EPERM: yes, someone else's.) */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Drops the ledger databases of drills whose process died without cleaning up (killed, crashed). */
async function dropOrphans(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname ~ '^cs_drill_(legacy|cloud)_[0-9]+_[0-9a-z]+$'",
    );
    for (const { datname } of rows) {
      const pid = Number(/^cs_drill_(?:legacy|cloud)_(\d+)_/.exec(datname)?.[1]);
      if (pid > 0 && !alive(pid)) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
  } finally {
    await client.end();
  }
}

/** Two throwaway ledger databases on the machine's PostgreSQL, or why there are none. */
async function startLedger(
  adminUrl: string,
): Promise<
  | { legacy: string; cloud: string; stop: () => Promise<void> }
  | { legacy: string; cloud: string; missing: string }
> {
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const names = { legacy: `cs_drill_legacy_${suffix}`, cloud: `cs_drill_cloud_${suffix}` };
  const at = (db: string) => {
    const url = new URL(adminUrl);
    url.pathname = `/${db}`;
    return url.toString();
  };
  try {
    await dropOrphans(adminUrl);
    await query(adminUrl, `CREATE DATABASE ${names.legacy}`);
  } catch (err) {
    const where = new URL(adminUrl);
    return {
      legacy: at(names.legacy),
      cloud: at(names.cloud),
      missing: `no PostgreSQL the drill can use at ${where.hostname}:${where.port || '5432'} as ${where.username || 'postgres'} (${(err as Error).message}); start one there, or set PAYMENTS_LEGACY_DB_URL and PAYMENTS_CLOUD_DB_URL`,
    };
  }
  await query(at(names.legacy), LEDGER_DDL);
  await query(adminUrl, `CREATE DATABASE ${names.cloud} TEMPLATE ${names.legacy}`);
  await query(at(names.cloud), CLOUD_DIVERGENCE);
  await query(
    at(names.cloud),
    `DO $$ BEGIN CREATE ROLE payments_cloud_writer; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
     GRANT INSERT, UPDATE, DELETE ON public.ledger_entries TO payments_cloud_writer;`,
  );
  return {
    legacy: at(names.legacy),
    cloud: at(names.cloud),
    stop: async () => {
      for (const db of [names.legacy, names.cloud]) {
        await query(adminUrl, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => {});
      }
    },
  };
}

export async function startDrillWorld(opts: DrillWorldOptions): Promise<DrillWorld> {
  const syncDelayMs = Math.max(250, Math.round(REAL_SYNC_DELAY_MS * opts.timeFactor));
  const route53 = await startRoute53Server({
    zones: { [DRILL_ZONE]: drillRecords(10) },
    healthChecks: { [DRILL_HEALTH_CHECK]: 8 },
    syncDelayMs,
  });
  const kube = await startKubernetes();
  // The story's metrics: the cloud pods near their limit and 5xx following the leak.
  const prometheus = await startPrometheusServer({
    values: { memory: '0.97', errors: '0.046', traffic: '1', latency: '0.82' },
  });
  const ledger = await startLedger(opts.postgresUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL_ROUTE_53: route53.url,
    AWS_ACCESS_KEY_ID: 'drill',
    AWS_SECRET_ACCESS_KEY: 'drill',
    AWS_REGION: 'us-east-1',
    KUBECONFIG: kube.kubeconfig,
  };
  // Without usable databases the URLs still point where the drill looked, so /ledger's own connection error
  // names the address and the reason instead of a missing variable.
  env.PAYMENTS_LEGACY_DB_URL = ledger.legacy;
  env.PAYMENTS_CLOUD_DB_URL = ledger.cloud;
  return {
    env,
    prometheusUrl: prometheus.url,
    describe: [
      `Route 53 ${route53.url} (zone ${DRILL_ZONE}, INSYNC after ${(syncDelayMs / 1000).toFixed(1)} s, time factor ${opts.timeFactor})`,
      `Kubernetes ${kube.cluster.url} (namespace ${NAMESPACE}, 3 cloud pods leaking memory, heap dumps 48 MiB, exec starts in 400 ms)`,
      `Prometheus ${prometheus.url} (memory 97% of limit, 5xx 4.6%)`,
      !('missing' in ledger)
        ? `PostgreSQL ledgers ${new URL(ledger.legacy).pathname.slice(1)} and ${new URL(ledger.cloud).pathname.slice(1)} (diverged)`
        : `ledger: ${ledger.missing}`,
    ],
    stop: async () => {
      await route53.stop();
      await kube.cluster.stop();
      await prometheus.stop();
      if ('stop' in ledger) await ledger.stop();
      rmSync(kube.dir, { recursive: true, force: true });
    },
  };
}
