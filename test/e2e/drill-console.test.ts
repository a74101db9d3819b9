// The drill world end to end: `node src/main.ts` with no config, no credentials and an empty environment runs the
// README's runbook against the in-process simulators, through the production adapters.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';

const ROOT = resolve(import.meta.dirname, '../..');

/** The runbook the README's console section shows: the command lines of the block after its drill marker. */
function readmeRunbook(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- drill-runbook -->\s*```[a-z]*\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'the README has a drill runbook block');
  return block.split('\n').filter((line) => line.startsWith('/'));
}

function runDrill(
  script: string[],
  cwd: string,
  extra: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'src/main.ts')], {
      cwd,
      // Nothing but PATH and HOME: no Slack tokens, no AWS credentials, no kubeconfig, no database URLs.
      env: { PATH: process.env.PATH ?? '', HOME: cwd, ...extra },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Generous: without a PostgreSQL each embedded ledger runs its own initdb, tens of seconds on a loaded machine.
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ stdout, stderr, code });
    });
    child.stdin.end(`${script.join('\n')}\n`);
  });
}

type DrillRun = Awaited<ReturnType<typeof runDrill>>;

/** Runs the drill in a fresh directory holding only the example config (no cloud-safety.yml), removed afterwards. */
async function runInDrillDir(
  script: string[],
  extra: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<DrillRun> {
  const cwd = mkdtempSync(join(tmpdir(), 'cs-drill-'));
  try {
    copyFileSync(join(ROOT, 'cloud-safety.example.yml'), join(cwd, 'cloud-safety.example.yml'));
    return await runDrill(script, cwd, extra, nodeArgs);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
}

/** What the bot printed between the prompt of `command` (as `who`, when given) and the next prompt. */
function replyTo(stdout: string, command: string, who = ''): string {
  const prompt = who ? `${who}@#incident> ${command}\n` : `> ${command}\n`;
  const start = stdout.indexOf(prompt);
  assert.ok(start >= 0, `the console ran ${command}`);
  const rest = stdout.slice(start + prompt.length);
  const next = rest.search(/\n\w+@#incident> /);
  return next < 0 ? rest : rest.slice(0, next);
}

const NO_POSTGRES = { CLOUD_SAFETY_DRILL_POSTGRES_URL: 'postgres://postgres@127.0.0.1:1/postgres' };

const EMBEDDED_SCRIPT = [
  '/incident declare payments sev=1 ledger drill',
  '/ledger audit',
  '/ledger lock',
  '/as bob',
  '/click 1',
  '/as alice',
  '/ledger reconcile',
  '/as bob',
  '/click 3',
  '/as dave',
  '/click 3',
  '/as alice',
  '/ledger audit',
];

describe('drill world in the console (npm start with nothing configured)', function () {
  this.timeout(300_000);
  // Each of these runs is its own process in its own directory, and mostly waits (Route 53's INSYNC, the runbook's
  // /wait, PGlite's initdb): they all start together here and each test below checks its own run.
  let runs: {
    readme: Promise<DrillRun>;
    embedded: Promise<DrillRun>;
    neither: Promise<DrillRun>;
    credentials: Promise<DrillRun>;
    slower: Promise<DrillRun>;
    wrong: Promise<DrillRun>;
  };

  before(() => {
    runs = {
      readme: runInDrillDir(readmeRunbook()),
      // Port 1 on loopback: nothing listens there.
      embedded: runInDrillDir(EMBEDDED_SCRIPT, NO_POSTGRES),
      // As if @electric-sql/pglite were not installed: Node's own ERR_MODULE_NOT_FOUND.
      neither: runInDrillDir(['/incident declare payments', '/ledger audit', '/ledger lock'], NO_POSTGRES, [
        '--import',
        join(ROOT, 'test/support/without-pglite.ts'),
      ]),
      credentials: runInDrillDir(['/breaker status payments'], {
        AWS_ACCESS_KEY_ID: 'AKIAREALLOOKING',
        AWS_SECRET_ACCESS_KEY: 'x',
      }),
      slower: runInDrillDir([], { CLOUD_SAFETY_DRILL_TIME_FACTOR: '0.1' }),
      wrong: runInDrillDir([], { CLOUD_SAFETY_DRILL_TIME_FACTOR: '2' }),
    };
    // A run that fails is reported by its test; none is left unhandled meanwhile.
    for (const run of Object.values(runs)) run.catch(() => undefined);
  });

  after(async () => {
    if (runs) await Promise.allSettled(Object.values(runs));
  });

  it('runs the README runbook against the simulated cloud, every step answering', async () => {
    {
      const script = readmeRunbook();
      const run = await runs.readme;
      const { stdout, stderr } = run;

      assert.equal(run.code, 0, stderr);
      assert.match(stderr, /=== DRILL: no cloud-safety\.yml and no cloud credentials/);
      assert.match(stderr, /Route 53 http:\/\/127\.0\.0\.1:\d+ \(zone Z0DRILLPAYMENTS, INSYNC after 3\.0 s/);
      assert.match(stderr, /Kubernetes http:\/\/127\.0\.0\.1:\d+ \(namespace payments/);
      assert.match(stderr, /Prometheus http:\/\/127\.0\.0\.1:\d+/);
      assert.match(stderr, /ELBv2 http:\/\/127\.0\.0\.1:\d+ \(ALB payments-edge/);
      assert.match(stderr, /CloudWatch http:\/\/127\.0\.0\.1:\d+ \(GetMetricData/);
      assert.match(stderr, /PagerDuty REST http:\/\/127\.0\.0\.1:\d+ \(service PWIXJZS/);

      assert.match(stderr, /scenario seed: Cloud pods leaking memory, payments failing, ledger diverged/);
      assert.match(replyTo(stdout, script[0] ?? ''), /▌ INCIDENT INC-1 · PAYMENTS · SEV1/);
      // Every card of the drill world says so.
      assert.match(replyTo(stdout, script[0] ?? ''), /🧪 DRILL: a rehearsal against a simulated cloud/);
      assert.match(replyTo(stdout, '/contain'), /🧪 DRILL/);
      const contain = replyTo(stdout, '/contain');
      assert.match(contain, /Route 53 weights: legacy 20 \/ cloud 80 \(20% \/ 80%\) → legacy 100 \/ cloud 0/);
      assert.match(contain, /Legacy health \(Route 53\): healthy/);
      // The example config's ALB layer is the simulated one: /contain shifts it after Route 53.
      assert.match(contain, /ALB weights: legacy 0 \/ cloud 100 \(0% \/ 100%\) → legacy 100 \/ cloud 0/);
      // /incident declare opened an incident on the simulated PagerDuty.
      assert.match(replyTo(stdout, script[0] ?? ''), /PagerDuty: opening an incident on service PWIXJZS/);
      // The requester cannot approve; bob, an approver, can, and the real SDK waits for the simulated INSYNC.
      assert.match(
        replyTo(stdout, '/click approve', 'alice'),
        /You requested this change, so a second person must approve it \(@sre-leads\)/,
      );
      const approve = replyTo(stdout, '/click approve', 'bob');
      assert.match(approve, /EXECUTING: SHIFT PAYMENTS TO LEGACY 100% \(ROUTE 53 THEN ALB\)/);
      assert.match(approve, /Approved by: bob/);
      assert.match(stdout, /DNS: ✔ in sync/);
      assert.match(stdout, /ALB weights applied: legacy 100 \/ cloud 0/);
      assert.match(stdout, /change \w+ INSYNC after \d+ s; clients converge by/);

      const telemetry = replyTo(stdout, '/telemetry');
      assert.match(telemetry, /WORKLOAD SNAPSHOT · PAYMENTS/);
      assert.match(telemetry, /payments-cloud-7d9f8b6c5-x2k4q +\S+ +yes +[34] +OOMKilled/);
      assert.match(stdout, /heap-dump: 48\.0 MiB, sha256 `[0-9a-f]{12}…` \(matches the pod\)/);
      assert.match(
        stdout,
        /Evidence from payments-cloud-7d9f8b6c5-x2k4q, payments-cloud-7d9f8b6c5-m8n3v: 8 kept, 0 failed/,
      );

      // The machine's PostgreSQL, or the embedded one without it: the same diverged ledger either way.
      assert.match(stderr, /PostgreSQL ledgers cs_drill_legacy_|embedded PostgreSQL ledgers \(PGlite\)/);
      const ledger = replyTo(stdout, '/ledger audit');
      assert.match(ledger, /missing_in_legacy 4, missing_in_cloud 0, mismatched 5, partial 1, invariant 1/);
      assert.match(ledger, /LEDGER AUDIT: PAYMENTS — 11 DIFFERENCES/);

      if (/PostgreSQL ledgers cs_drill_legacy_/.test(stderr)) {
        // Lock (one approver), then reconcile (two, under the example's "ledger writes" policy) and the re-audit.
        assert.match(replyTo(stdout, '/ledger lock'), /APPROVAL NEEDED: LOCK CLOUD WRITERS/);
        assert.match(
          stdout,
          /✔ Revoked DELETE, INSERT, UPDATE from payments_cloud_writer on public\.ledger_entries/,
        );
        assert.match(
          stdout,
          /Approvals: 2 of 2 approvals: ✓ @bob, ✓ @dave; quorum met \(policy: ledger writes\)/,
        );
        assert.match(stdout, /✔ Copied 4 row\(s\) into legacy .*missing_in_legacy 4 → 0/);
      }
      // CDC is read through the production Debezium check from the simulated Kafka Connect.
      assert.match(
        stderr,
        /Kafka Connect http:\/\/127\.0\.0\.1:\d+ \(CDC connector ledger_sync, task RUNNING/,
      );
      assert.match(replyTo(stdout, '/breaker arm'), /APPROVAL NEEDED: ARM PAYMENTS'S CIRCUIT BREAKER/);
      assert.match(stdout, /✔ Armed\. The breaker evaluates every 30s/);
      assert.match(
        replyTo(stdout, '/canary start steps=5,25 bake=2m'),
        /APPROVAL NEEDED: CANARY PAYMENTS TO CLOUD 5% → 25% \(BAKE 2M EACH\)/,
      );
      assert.match(stdout, /Step 1: cloud 5% written/);
      const preflight = replyTo(stdout, '/preflight');
      assert.match(preflight, /✔ CDC sync running, lag within bounds — PASS/);
      assert.match(preflight, /✔ Breaker armed — PASS/);
      assert.match(preflight, /✔ Legacy is healthy — PASS/);
      assert.match(preflight, /✔ Every breaker condition's query returns data for both stacks — PASS/);
      assert.match(replyTo(stdout, '/timeline'), /🔒 Hash chain verified: \d+ events/);
      assert.match(
        replyTo(stdout, '/incident resolve traffic on legacy, ledger reconciled'),
        /Resolved \*?INC-1/,
      );
      const postmortem = replyTo(stdout, '/postmortem');
      assert.match(postmortem, /📎 Post-mortem draft INC-1 \(payments\)/);
      assert.match(postmortem, /POST-MORTEM DRAFT/);
    }
  });

  it('without a usable PostgreSQL, serves the ledgers from an embedded PostgreSQL: audit, lock and reconcile end to end', async () => {
    {
      const run = await runs.embedded;
      const { stdout, stderr } = run;

      assert.equal(run.code, 0, stderr);
      assert.match(
        stderr,
        /embedded PostgreSQL ledgers \(PGlite\) legacy 127\.0\.0\.1:\d+ and cloud 127\.0\.0\.1:\d+ \(diverged\), because there is no PostgreSQL the drill can use at 127\.0\.0\.1:1 as postgres \(.*ECONNREFUSED/,
      );
      const audit = replyTo(stdout, '/ledger audit');
      assert.match(audit, /missing_in_legacy 4, missing_in_cloud 0, mismatched 5, partial 1, invariant 1/);
      assert.match(audit, /on legacy 127\.0\.0\.1:\d+\/legacy as postgres and cloud 127\.0\.0\.1:\d+\/cloud/);
      // No logical replication in a WASM backend; the drill's CDC is the simulated Kafka Connect either way.
      assert.match(audit, /✔ CDC \(debezium\): connector ledger_sync and its 1 task\(s\) RUNNING/);
      assert.match(
        replyTo(stdout, '/ledger lock'),
        /APPROVAL NEEDED: LOCK CLOUD WRITERS \(PAYMENTS_CLOUD_WRITER\)/,
      );
      assert.match(
        replyTo(stdout, '/click 1', 'bob'),
        /Revoked DELETE, INSERT, UPDATE from payments_cloud_writer on public\.ledger_entries/,
      );
      const reconcile = replyTo(stdout, '/ledger reconcile', 'alice');
      assert.match(reconcile, /Dry run done: 4 row\(s\) would be copied/);
      assert.match(reconcile, /ON CONFLICT \("id"\) DO NOTHING/);
      assert.match(replyTo(stdout, '/click 3', 'bob'), /1 of 2 approvals/);
      const approved = replyTo(stdout, '/click 3', 'dave');
      assert.match(approved, /DONE: COPY 4 MISSING_IN_LEGACY ROW\(S\) OF PAYMENTS FROM CLOUD INTO LEGACY/);
      // The re-audit after the copy, then alice's own: the rows legacy never got are there now.
      const after = stdout.slice(stdout.lastIndexOf('alice@#incident> /ledger audit'));
      assert.match(after, /missing_in_legacy 0, missing_in_cloud 0, mismatched 5, partial 1, invariant 1/);
    }
  });

  it('with neither PostgreSQL nor the embedded one, says so at start and /ledger says exactly what is missing', async () => {
    {
      const run = await runs.neither;

      assert.equal(run.code, 0, run.stderr);
      const missing =
        /no PostgreSQL the drill can use at 127\.0\.0\.1:1 as postgres \(.*ECONNREFUSED.*\), and the embedded PostgreSQL \(@electric-sql\/pglite\) did not start \(Cannot find package '@electric-sql\/pglite'.*\); start a PostgreSQL there .*run npm install so @electric-sql\/pglite and @electric-sql\/pglite-socket are present/;
      assert.match(run.stderr, new RegExp(`ledger: ${missing.source}`));
      for (const command of ['/ledger audit', '/ledger lock']) {
        const reply = replyTo(run.stdout, command);
        assert.match(reply, new RegExp(`the drill has no ledger databases for payments: ${missing.source}`));
        assert.doesNotMatch(reply, /APPROVAL NEEDED|Auditing/);
      }
    }
  });

  it('does not start when cloud credentials are set: the bot then talks to what they point at', async () => {
    {
      const run = await runs.credentials;

      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /DRILL/);
      assert.match(run.stderr, /using cloud-safety\.example\.yml for this console session/);
      assert.match(
        replyTo(run.stdout, '/breaker status payments'),
        /payments's breaker has never been armed/,
      );
    }
  });

  it('scales Route 53 propagation by CLOUD_SAFETY_DRILL_TIME_FACTOR and refuses a factor outside (0, 1]', async () => {
    {
      const slower = await runs.slower;
      const wrong = await runs.wrong;

      assert.equal(slower.code, 0, slower.stderr);
      assert.match(slower.stderr, /INSYNC after 6\.0 s, time factor 0\.1\)/);
      assert.equal(wrong.code, 1);
      assert.match(
        wrong.stderr,
        /CLOUD_SAFETY_DRILL_TIME_FACTOR=2 is not a number in \(0, 1\], e\.g\. 0\.05 or 1\.0\./,
      );
      assert.doesNotMatch(wrong.stderr, /=== DRILL/);
    }
  });

  it('drops the ledger databases a killed drill left behind, and only those', async function () {
    const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
    try {
      await admin.connect();
    } catch {
      this.skip(); // no PostgreSQL on this machine: the no-PostgreSQL test covers that path
    }
    const cwd = mkdtempSync(join(tmpdir(), 'cs-drill-'));
    // 4194304 is above Linux's pid_max: no process can have it. This test's own pid is alive.
    const orphan = 'cs_drill_legacy_4194304_orphan1';
    const live = `cs_drill_cloud_${process.pid}_live1`;
    const names = async () =>
      (
        await admin.query<{ datname: string }>(
          "SELECT datname FROM pg_database WHERE datname LIKE 'cs_drill_%'",
        )
      ).rows.map((r) => r.datname);
    try {
      await admin.query(`CREATE DATABASE ${orphan}`);
      await admin.query(`CREATE DATABASE ${live}`);
      copyFileSync(join(ROOT, 'cloud-safety.example.yml'), join(cwd, 'cloud-safety.example.yml'));

      const run = await runDrill([], cwd);

      assert.equal(run.code, 0, run.stderr);
      const left = await names();
      assert.ok(!left.includes(orphan), "the dead drill's database is dropped");
      assert.ok(left.includes(live), "a running drill's database is kept");
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${orphan}`);
      await admin.query(`DROP DATABASE IF EXISTS ${live}`);
      await admin.end();
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
