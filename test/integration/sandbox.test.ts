// /sandbox against the real terraform CLI and real Redis: up, down, TTL across a restart, failures and bad input.
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProcessLoadRunner } from '../../src/adapters/load.ts';
import { TerraformCli } from '../../src/adapters/terraform.ts';
import type { Message } from '../../src/chat/chat.ts';
import type { Config } from '../../src/config.ts';
import type { SandboxRecord } from '../../src/sandbox.ts';
import { getJson, updateJson } from '../../src/store/store.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { makeTestBot, testConfig, textOf, USERS, type TestBot } from '../support/bot.ts';
import { testRedisUrl } from '../support/redis.ts';
import {
  copyModule,
  countingLoad,
  countingTerraform,
  listWorkspaces,
  pullState,
  tfProbe,
  until,
  type ModuleCopy,
} from '../support/terraform.ts';

const SECRET = 'hunter2-correct-horse-battery';
const IMAGE = 'registry.example.com/payments@sha256:9f2c1e7d4b3a';
const OTHER_IMAGE = 'registry.example.com/payments@sha256:0000aaaa1111';

interface SandboxOpts {
  terraform?: Record<string, unknown>;
  ttl?: string;
  load?: Record<string, unknown>;
}

function sandboxConfig(dir: string, opts: SandboxOpts = {}): Config {
  return testConfig({
    services: {
      payments: {
        sandbox: {
          terraform: {
            dir,
            vars: { replicas: 2 },
            secretVars: { db_password: { env: 'SANDBOX_DB_PASSWORD' } },
            ...opts.terraform,
          },
          ttl: opts.ttl ?? '4h',
          destroyRetry: '1s',
          ...(opts.load ? { load: opts.load } : {}),
        },
      },
      checkout: {},
    },
  });
}

const ENV = { ...process.env, SANDBOX_DB_PASSWORD: SECRET };

describe('/sandbox (real terraform, real Redis)', function () {
  this.timeout(40_000);
  let copy: ModuleCopy;
  let store: RedisStore;
  let prefix: string;
  const bots: TestBot[] = [];
  const stores: RedisStore[] = [];

  function bot(
    config: Config,
    opts: {
      terraform?: ReturnType<typeof countingTerraform>;
      env?: NodeJS.ProcessEnv;
      onStore?: RedisStore;
    } = {},
  ) {
    const env = opts.env ?? ENV;
    const counted =
      opts.terraform ?? countingTerraform(new TerraformCli({ env, workDir: copy.work, killGraceMs: 2000 }));
    const load = countingLoad(new ProcessLoadRunner({ env }));
    const t = makeTestBot({
      store: opts.onStore ?? store,
      config,
      // The bot's own environment: the redactor learns the secretVars values from it.
      env,
      adapters: { terraform: counted.terraform, loadRunner: load.loadRunner },
    });
    bots.push(t);
    return { t, calls: counted.calls, loadCalls: load.calls };
  }

  async function record(t: TestBot): Promise<SandboxRecord | null> {
    return getJson<SandboxRecord>(t.store, 'sandbox:INC-1');
  }

  async function kinds(t: TestBot): Promise<string[]> {
    return (await t.bot.deps.timeline.read('INC-1')).map((e) => e.kind);
  }

  /** Everything the bot sent anywhere (posts, edits, ephemeral replies) plus its log, for secret checks. */
  function everything(t: TestBot): string {
    return [
      ...t.chat.sent.map((s) => textOf(s.message)),
      ...t.replies.map((r) => textOf(r.message)),
      ...t.logLines,
    ].join('\n');
  }

  function threadTexts(t: TestBot, rec: SandboxRecord | null): string[] {
    const root = rec?.card?.ts;
    const inThread = new Set(
      t.chat.sent.filter((s) => s.threadTs === root && s.kind === 'post').map((s) => s.ts),
    );
    return t.chat.sent
      .filter(
        (s) => (s.kind === 'post' && s.threadTs === root) || (s.kind === 'update' && inThread.has(s.ts)),
      )
      .map((s) => textOf(s.message));
  }

  beforeEach(async () => {
    copy = copyModule('sandbox');
    prefix = `test:sbx-${Math.random().toString(36).slice(2, 10)}:`;
    store = new RedisStore(await testRedisUrl(), { prefix });
    stores.push(store);
  });

  afterEach(async () => {
    for (const t of bots.splice(0)) await t.bot.stop();
    for (const s of stores.splice(0)) await s.close();
    copy.cleanup();
  });

  async function declareWithTelemetry(t: TestBot): Promise<void> {
    await t.command('alice', '/incident', 'declare payments cloud pods OOM');
    const incidents = t.bot.deps.incidents;
    const actor = { type: 'user' as const, ...USERS.alice };
    // What the telemetry step records: an older snapshot, then the latest one (pods on the failing image).
    await incidents.record('INC-1', {
      step: 'L',
      kind: 'telemetry.snapshot',
      actor,
      summary: 'snapshot',
      data: { imageDigest: OTHER_IMAGE },
    });
    await incidents.record('INC-1', {
      step: 'L',
      kind: 'telemetry.snapshot',
      actor,
      summary: 'snapshot',
      data: {
        pods: [
          { name: 'payments-7d9-a', imageDigest: IMAGE },
          { name: 'payments-7d9-b', imageDigest: IMAGE },
          { name: 'payments-old', imageDigest: OTHER_IMAGE },
        ],
      },
    });
    for (const uri of [
      's3://evidence/INC-1/heap-payments-7d9-a.hprof.gz',
      's3://evidence/INC-1/threads-payments-7d9-a.txt',
    ]) {
      await incidents.record('INC-1', {
        step: 'L',
        kind: 'evidence.captured',
        actor,
        summary: uri,
        data: { uri, kind: 'heap', size: 1, sha256: 'x' },
      });
    }
  }

  it('up applies the module into the incident workspace with the incident variables, posts progress and masked outputs', async () => {
    const { t, calls } = bot(sandboxConfig(copy.dir));
    await declareWithTelemetry(t);

    const replies = await t.command('alice', '/sandbox', 'up');

    assert.match(textOf(replies[0]), /Standing up sandbox \*inc-1\* for \*payments\*/);
    assert.match(
      textOf(replies[0]),
      /with image `registry\.example\.com\/payments@sha256:9f2c1e7d4b3a` and 2 evidence/,
    );
    const rec = await record(t);
    assert.equal(rec?.state, 'up');
    assert.equal(rec?.workspace, 'inc-1');
    // Terraform's own state, read back with `terraform state pull`: the resources and the variables they got.
    const state = pullState(copy, 'inc-1');
    const env = state.resources.find((r) => r.name === 'environment');
    assert.deepEqual((env?.instances[0]?.attributes.input as { value: unknown }).value, {
      incident: 'INC-1',
      service: 'payments',
      image: IMAGE,
      evidence: [
        's3://evidence/INC-1/heap-payments-7d9-a.hprof.gz',
        's3://evidence/INC-1/threads-payments-7d9-a.txt',
      ],
      replicas: 2,
      class: 'standard',
    });
    assert.equal(
      state.resources.find((r) => r.name === 'replica')?.instances.length,
      2,
      'vars.replicas reached the module',
    );
    assert.ok(existsSync(join(copy.dir, 'terraform.tfstate.d', 'inc-1')));
    assert.ok(
      !existsSync(join(copy.dir, '.terraform')),
      "the bot's data dir stays out of the module directory",
    );
    // The card in the channel, the thread with progress and outputs; the sensitive output is hidden everywhere.
    const card = t.chat.latest(rec?.card ?? { channel: '', ts: '' });
    assert.match(textOf(card), /Sandbox inc-1 · payments/);
    assert.match(textOf(card), /Up/);
    const thread = threadTexts(t, rec).join('\n');
    assert.match(thread, /Terraform apply in `inc-1` finished: 4 added, 0 changed, 0 destroyed/);
    assert.match(thread, /✓ terraform_data\.replica\[1\]: create/);
    assert.match(thread, /endpoint = http:\/\/payments\.inc-1\.sandbox\.internal/);
    assert.match(thread, /db_password = \(sensitive, hidden\)/);
    assert.ok(!everything(t).includes(SECRET), 'the secret variable never reaches chat or logs');
    // Timeline: requested, then up; the checklist marks step U done.
    assert.deepEqual((await kinds(t)).slice(-2), ['sandbox.requested', 'sandbox.up']);
    const events = await t.bot.deps.timeline.read('INC-1');
    const up = events.find((e) => e.kind === 'sandbox.up');
    assert.deepEqual(up?.data.outputs, [
      { name: 'db_password', sensitive: true },
      { name: 'endpoint', sensitive: false, value: 'http://payments.inc-1.sandbox.internal' },
      {
        name: 'evidence',
        sensitive: false,
        value: JSON.stringify([
          's3://evidence/INC-1/heap-payments-7d9-a.hprof.gz',
          's3://evidence/INC-1/threads-payments-7d9-a.txt',
        ]),
      },
      { name: 'image', sensitive: false, value: IMAGE },
    ]);
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.checklist.U.state, 'done');
    assert.deepEqual(calls, ['check', 'apply']);

    // A second `up` reports the existing sandbox and runs nothing.
    const again = await t.command('carol', '/sandbox', 'up payments');
    assert.match(textOf(again[0]), /already has sandbox \*inc-1\*/);
    assert.deepEqual(calls, ['check', 'apply']);

    const status = await t.command('carol', '/sandbox', 'status');
    assert.match(textOf(status[0]), /"text":"\*State\*\\nup"/);
    assert.match(textOf(status[0]), /\*Time left\*\\n3h 59m|\*Time left\*\\n4h/);
    assert.match(textOf(status[0]), /endpoint = http:\/\/payments\.inc-1\.sandbox\.internal/);
    assert.doesNotMatch(textOf(status[0]), new RegExp(SECRET));
  });

  it('down destroys everything, deletes the workspace and records it, also after the incident is resolved', async () => {
    const { t, calls } = bot(sandboxConfig(copy.dir));
    await t.command('alice', '/incident', 'declare payments');
    await t.command('alice', '/sandbox', 'up');
    assert.equal((await record(t))?.state, 'up');

    await t.command('alice', '/incident', 'resolve traffic back on legacy');
    const status = await t.command('carol', '/sandbox', 'status');
    assert.match(textOf(status[0]), /Sandbox inc-1: up/, 'the sandbox outlives the resolved incident');

    const replies = await t.command('carol', '/sandbox', 'down');

    assert.match(textOf(replies[0]), /Destroying sandbox \*inc-1\*/);
    const rec = await record(t);
    assert.equal(rec?.state, 'destroyed');
    assert.deepEqual(listWorkspaces(copy), ['default']);
    assert.ok(!existsSync(join(copy.dir, 'terraform.tfstate.d', 'inc-1')));
    assert.deepEqual((await kinds(t)).slice(-2), ['sandbox.teardown', 'sandbox.down']);
    const down = (await t.bot.deps.timeline.read('INC-1')).at(-1);
    assert.equal(down?.actor.name, 'carol');
    assert.deepEqual(
      {
        reason: down?.data.reason,
        removed: down?.data.removed,
        workspaceDeleted: down?.data.workspaceDeleted,
      },
      { reason: 'command', removed: 4, workspaceDeleted: true },
    );
    assert.match(threadTexts(t, rec).join('\n'), /Sandbox `inc-1` is destroyed: 4 resource\(s\) removed/);
    assert.deepEqual(
      await t.store.due('schedule:sandbox-ttl', Date.now() + 10 * 3_600_000),
      [],
      'TTL timer cancelled',
    );
    assert.deepEqual(calls, ['check', 'apply', 'check', 'check', 'destroy']);
    const again = await t.command('carol', '/sandbox', 'down');
    assert.match(textOf(again[0]), /INC-1 has no sandbox to destroy \(inc-1 was destroyed at/);
    const up = await t.command('carol', '/sandbox', 'up');
    assert.match(
      textOf(up[0]),
      /This channel has no active incident/,
      'a resolved incident gets no new sandbox',
    );
  });

  it('destroys the sandbox when its TTL ends, even after the bot that created it restarted', async () => {
    const first = bot(sandboxConfig(copy.dir, { ttl: '2s' }));
    await first.t.command('alice', '/incident', 'declare payments');
    await first.t.command('alice', '/sandbox', 'up');
    assert.equal((await record(first.t))?.state, 'up');
    await first.t.bot.stop(); // the bot process goes away before the TTL ends

    const secondStore = new RedisStore(await testRedisUrl(), { prefix });
    stores.push(secondStore);
    const second = bot(sandboxConfig(copy.dir, { ttl: '2s' }), { onStore: secondStore });
    await second.t.bot.start();
    await until('the TTL teardown', async () => (await record(second.t))?.state === 'destroyed');
    await second.t.bot.idle();

    assert.deepEqual(listWorkspaces(copy), ['default']);
    const events = await second.t.bot.deps.timeline.read('INC-1');
    const teardown = events.find((e) => e.kind === 'sandbox.teardown');
    assert.equal(teardown?.data.reason, 'ttl');
    assert.equal(teardown?.actor.type, 'system');
    const down = events.find((e) => e.kind === 'sandbox.down');
    assert.match(down?.summary ?? '', /destroyed \(TTL ended\): 4 resource\(s\) removed/);
    assert.deepEqual(second.calls, ['check', 'destroy']);
  });

  it('finishes a teardown, and re-applies an up, that a crashed bot left half-way', async () => {
    const { t, calls } = bot(sandboxConfig(copy.dir));
    await t.command('alice', '/incident', 'declare payments');
    await t.command('alice', '/sandbox', 'up');
    // The bot died right after starting a teardown: the record says destroying, its lock expired, the
    // safety-net timer it set is due.
    await updateJson<SandboxRecord>(t.store, 'sandbox:INC-1', (r) => (r ? { ...r, state: 'destroying' } : r));
    await t.store.schedule('schedule:sandbox-ttl', 'INC-1', Date.now());
    const refused = await t.command('carol', '/sandbox', 'up');
    assert.match(
      textOf(refused[0]),
      /The teardown of sandbox \*inc-1\* was interrupted\. Run `\/sandbox down` to finish it/,
    );

    await t.bot.start();
    await until('the interrupted teardown to finish', async () => (await record(t))?.state === 'destroyed');
    await t.bot.idle();
    assert.deepEqual(listWorkspaces(copy), ['default']);

    // The bot died while applying: the record says creating and nobody holds the lock any more.
    await updateJson<SandboxRecord>(t.store, 'sandbox:INC-1', (r) => (r ? { ...r, state: 'creating' } : r));
    const again = await t.command('carol', '/sandbox', 'up');
    assert.match(textOf(again[0]), /Standing up sandbox \*inc-1\*/);
    assert.equal((await record(t))?.state, 'up');
    assert.deepEqual(calls, ['check', 'apply', 'check', 'destroy', 'check', 'apply']);
  });

  it('reports a failed apply with Terraform error lines, and down still destroys what it created', async () => {
    const { t } = bot(sandboxConfig(copy.dir, { terraform: { vars: { replicas: 1, fail_apply: true } } }));
    await t.command('alice', '/incident', 'declare payments');

    await t.command('alice', '/sandbox', 'up');

    const rec = await record(t);
    assert.equal(rec?.state, 'failed');
    assert.match(
      rec?.errors[0] ?? '',
      /local-exec provisioner error: Error running command .* exit status 3\. Output: creating the replica database failed: quota exceeded \(resource terraform_data\.broken\[0\], main\.tf:\d+\)/,
    );
    const thread = threadTexts(t, rec).join('\n');
    assert.match(thread, /Terraform apply failed for sandbox `inc-1`/);
    assert.match(thread, /✗ terraform_data\.broken\[0\]: create FAILED/);
    // What exists, from Terraform's state: the three created and the tainted one whose provisioner failed.
    assert.match(
      thread,
      /`\/sandbox down` destroys what exists \(4 resource\(s\) in Terraform's state now\)/,
    );
    const failed = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'sandbox.failed');
    assert.equal(failed?.data.phase, 'apply');
    assert.equal((await t.bot.deps.incidents.get('INC-1'))?.checklist.U.state, 'in_progress');
    const created = pullState(copy, 'inc-1')
      .resources.filter((r) => r.instances.length > 0)
      .map((r) => r.name)
      .sort();
    assert.deepEqual(
      created,
      ['broken', 'database', 'environment', 'replica'],
      'a failed apply leaves what it made',
    );

    await t.command('alice', '/sandbox', 'down');

    assert.equal((await record(t))?.state, 'destroyed');
    assert.deepEqual(listWorkspaces(copy), ['default']);
  });

  it('reports an invalid module with the file and line, creates nothing, and down closes it without Terraform', async () => {
    const invalid = copyModule('invalid');
    try {
      const { t, calls } = bot(sandboxConfig(invalid.dir, { terraform: { vars: {}, secretVars: {} } }));
      await t.command('alice', '/incident', 'declare payments');

      await t.command('alice', '/sandbox', 'up');

      const rec = await record(t);
      assert.equal(rec?.state, 'failed');
      assert.ok(
        rec?.errors.some((e) =>
          /^Invalid expression: Expected the start of an expression.* \(main\.tf:7\)$/.test(e),
        ),
        rec?.errors.join('\n'),
      );
      const thread = threadTexts(t, rec).join('\n');
      assert.match(thread, /Terraform init failed for sandbox `inc-1`/);
      assert.match(thread, /Nothing was created\. Fix the module or its variables/);
      assert.ok(!existsSync(join(invalid.dir, 'terraform.tfstate.d')));

      await t.command('alice', '/sandbox', 'down');
      assert.equal((await record(t))?.state, 'destroyed');
      assert.deepEqual(calls, ['check', 'apply'], 'nothing to destroy: Terraform is not run again');
    } finally {
      invalid.cleanup();
    }
  });

  it('reports invalid variables, and down removes the empty workspace without needing valid variables', async () => {
    const { t } = bot(sandboxConfig(copy.dir, { terraform: { vars: { replicas: 'many' } } }));
    await t.command('alice', '/incident', 'declare payments');

    await t.command('alice', '/sandbox', 'up');

    const rec = await record(t);
    assert.equal(rec?.state, 'failed');
    assert.match(
      rec?.errors.join('\n') ?? '',
      /Invalid value for input variable: The given value is not suitable for var\.replicas .*a number is required/,
    );
    assert.deepEqual(pullState(copy, 'inc-1').resources, [], 'the plan failed: nothing in state');

    await t.command('alice', '/sandbox', 'down');

    assert.equal((await record(t))?.state, 'destroyed');
    assert.deepEqual(listWorkspaces(copy), ['default']);
  });

  it('escalates a failed teardown in the channel and retries it until it succeeds', async () => {
    const marker = join(copy.work, 'protected');
    const { t } = bot(sandboxConfig(copy.dir, { terraform: { vars: { block_destroy: marker } } }));
    await t.command('alice', '/incident', 'declare payments');
    await t.command('alice', '/sandbox', 'up');
    writeFileSync(marker, 'in use');

    await t.command('alice', '/sandbox', 'down');

    const rec = await record(t);
    assert.equal(rec?.state, 'destroy_failed');
    assert.equal(rec?.destroyAttempts, 1);
    assert.match(rec?.errors.join('\n') ?? '', /local-exec provisioner error: .*resource is protected/);
    const escalation = t.chat.sent.find(
      (s) =>
        s.kind === 'post' && s.threadTs === undefined && /could not be destroyed/.test(textOf(s.message)),
    );
    assert.ok(escalation, 'posted in the channel, not only in the thread');
    assert.match(
      textOf(escalation.message),
      /<!here> Sandbox `inc-1` \(payments, INC-1\) could not be destroyed \(attempt 1\)/,
    );
    const failed = (await t.bot.deps.timeline.read('INC-1'))
      .filter((e) => e.kind === 'sandbox.failed')
      .at(-1);
    assert.deepEqual(
      { phase: failed?.data.phase, attempt: failed?.data.attempt, escalated: failed?.data.escalated },
      { phase: 'destroy', attempt: 1, escalated: true },
    );
    assert.equal(
      pullState(copy, 'inc-1').resources.some((r) => r.name === 'guard'),
      true,
      'still tracked, never forgotten',
    );
    const upAgain = await t.command('alice', '/sandbox', 'up');
    assert.match(textOf(upAgain[0]), /last teardown of sandbox \*inc-1\* failed/);

    rmSync(marker); // the cause is fixed; the scheduled retry (destroyRetry 1s) finishes the job
    await t.bot.start();
    await until('the teardown retry', async () => (await record(t))?.state === 'destroyed');
    await t.bot.idle();

    assert.deepEqual(listWorkspaces(copy), ['default']);
    const teardowns = (await t.bot.deps.timeline.read('INC-1')).filter((e) => e.kind === 'sandbox.teardown');
    assert.deepEqual(
      teardowns.map((e) => e.data.reason),
      ['command', 'retry'],
    );
  });

  it('runs the load command with the outputs as environment variables and records its summary', async () => {
    const script =
      'echo target=$TF_OUTPUT_ENDPOINT; echo pw=$TF_OUTPUT_DB_PASSWORD; echo ws=$SANDBOX_WORKSPACE rps=$RPS; echo slack=${SLACK_BOT_TOKEN:-none}';
    const { t, loadCalls } = bot(
      sandboxConfig(copy.dir, {
        load: { command: ['sh', '-c', script], env: { RPS: '50' }, timeout: '30s' },
      }),
      {
        env: { ...ENV, SLACK_BOT_TOKEN: 'xoxb-not-for-children' },
      },
    );
    await t.command('alice', '/incident', 'declare payments');

    await t.command('alice', '/sandbox', 'up');

    assert.deepEqual(loadCalls, ['run']);
    const rec = await record(t);
    assert.equal(rec?.load?.ok, true);
    assert.deepEqual(rec?.load?.tail, [
      'target=http://payments.inc-1.sandbox.internal',
      'pw=[redacted]',
      'ws=inc-1 rps=50',
      'slack=none',
    ]);
    const load = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'sandbox.load');
    assert.equal(load?.data.exitCode, 0);
    assert.match(threadTexts(t, rec).join('\n'), /Load against `inc-1` passed: `sh -c/);
    assert.ok(!everything(t).includes(SECRET));
  });

  it('refuses bad input with a clear message and calls nothing', async () => {
    const { t, calls } = bot(sandboxConfig(copy.dir));
    const noIncident = await t.command('alice', '/sandbox', 'up');
    assert.match(textOf(noIncident[0]), /This channel has no active incident/);
    await t.command('alice', '/incident', 'declare payments');
    const before = (await kinds(t)).length;

    const cases: [string, RegExp][] = [
      ['', /Say what to do: up, down or status/],
      ['launch', /Unknown subcommand "launch"; use up, down or status/],
      ['up payments extra', /Unexpected "extra"/],
      ['up ttl=1h', /Unknown option ttl=\. This command takes no options/],
      ['up checkout', /incident INC-1 is about payments, not checkout/],
      ['status', /INC-1 has no sandbox yet\. `\/sandbox up` stands one up/],
      ['down', /INC-1 has no sandbox to destroy/],
    ];
    for (const [text, expected] of cases) {
      const replies = await t.command('alice', '/sandbox', text);
      assert.match(textOf(replies[0]), expected, text);
      assert.match(textOf(replies[0]), /\/sandbox up \[service\]/, `usage shown for "${text}"`);
    }
    const mallory = await t.command('mallory', '/sandbox', 'up');
    assert.match(textOf(mallory[0]), /Only responders can run cloud-safety commands/);

    assert.deepEqual(calls, []);
    assert.equal((await kinds(t)).length, before, 'nothing recorded');
    assert.equal(await record(t), null);
  });

  it('explains a missing sandbox section, directory, terraform binary or secret, and changes nothing', async () => {
    const noSandbox = bot(testConfig({ services: { payments: {}, checkout: {} } }));
    await noSandbox.t.command('alice', '/incident', 'declare payments', 'C0NOSBX');
    const none = await noSandbox.t.command('alice', '/sandbox', 'up', 'C0NOSBX');
    assert.match(
      textOf(none[0]),
      /payments has no sandbox configured\. Add services\.payments\.sandbox\.terraform\.dir/,
    );

    const missingDir = bot(sandboxConfig(join(copy.dir, 'nope')));
    await missingDir.t.command('alice', '/incident', 'declare payments', 'C0NODIR');
    const dir = await missingDir.t.command('alice', '/sandbox', 'up', 'C0NODIR');
    assert.match(
      textOf(dir[0]),
      /The Terraform directory .*\/nope does not exist on the bot's host\. Fix sandbox\.terraform\.dir/,
    );

    const noBinary = bot(sandboxConfig(copy.dir), {
      terraform: countingTerraform(
        new TerraformCli({ binary: 'terraform-not-installed', env: ENV, workDir: copy.work }),
      ),
    });
    await noBinary.t.command('alice', '/incident', 'declare payments', 'C0NOBIN');
    const bin = await noBinary.t.command('alice', '/sandbox', 'up', 'C0NOBIN');
    assert.match(
      textOf(bin[0]),
      /The Terraform CLI \(terraform-not-installed\) is not on the bot's PATH\. Install Terraform 1\.9 or later .* or set TERRAFORM_BIN/,
    );

    const noSecret = bot(sandboxConfig(copy.dir), { env: { ...process.env, SANDBOX_DB_PASSWORD: '' } });
    await noSecret.t.command('alice', '/incident', 'declare payments', 'C0NOSEC');
    const secret = await noSecret.t.command('alice', '/sandbox', 'up', 'C0NOSEC');
    assert.match(
      textOf(secret[0]),
      /The Terraform variable db_password comes from the environment variable SANDBOX_DB_PASSWORD .* which is not set/,
    );

    for (const b of [noSandbox, missingDir, noBinary, noSecret]) {
      assert.deepEqual(
        b.calls.filter((c) => c !== 'check'),
        [],
        'no Terraform run',
      );
      assert.deepEqual(
        (await b.t.bot.deps.timeline.read('INC-1')).map((e) => e.kind),
        ['incident.declared'],
      );
      assert.equal(await getJson(b.t.store, 'sandbox:INC-1'), null);
    }
    assert.ok(!existsSync(join(copy.dir, 'terraform.tfstate.d')));
  });

  it('says how to destroy by hand when the sandbox section was removed from the config', async () => {
    const { t, calls } = bot(testConfig({ services: { payments: {}, checkout: {} } }));
    await t.command('alice', '/incident', 'declare payments');
    const left: Partial<SandboxRecord> = {
      incident: 'INC-1',
      service: 'payments',
      channel: 'C0INCIDENT',
      workspace: 'inc-1',
      dir: copy.dir,
      state: 'up',
      workspaceCreated: true,
      destroyAttempts: 0,
    };
    await t.store.set('sandbox:INC-1', JSON.stringify(left));

    const replies = await t.command('alice', '/sandbox', 'down');

    // Slack shows &amp; as & (the fallback is escaped like blocks).
    assert.match(
      textOf(replies[0]),
      /services\.payments\.sandbox is no longer in cloud-safety\.yml, so the bot cannot destroy inc-1\. Put the section back .* by hand: `cd .* &amp;&amp; terraform workspace select inc-1 &amp;&amp; terraform destroy`/,
    );
    assert.deepEqual(calls, []);
    assert.equal((await record(t))?.state, 'up');
  });

  it('does not start a second Terraform run while another replica holds the workspace lock', async () => {
    const { t, calls } = bot(sandboxConfig(copy.dir));
    await t.command('alice', '/incident', 'declare payments');
    assert.ok(await store.acquireLease('sandbox:INC-1:run', 'replica-2', 60_000));

    const replies: Message[] = await t.command('alice', '/sandbox', 'up');

    assert.match(textOf(replies[0]), /A Terraform run for `inc-1` is already in progress/);
    assert.deepEqual(calls, ['check']);
    assert.equal(await record(t), null);
    assert.deepEqual(await kinds(t), ['incident.declared']);
  });

  // ---- issue 16: what exists comes from Terraform's state; empty workspaces; secrets -----------------------------

  /** Everything stored for the incident: the timeline stream and the sandbox record, as the store holds them. */
  async function stored(t: TestBot): Promise<string> {
    const events = await t.store.readStream('timeline:INC-1');
    return [...events.map((e) => JSON.stringify(e.fields)), (await t.store.get('sandbox:INC-1')) ?? ''].join(
      '\n',
    );
  }

  it('refuses a module that requires a variable the bot does not pass, before anything is created', async () => {
    const needs = copyModule('needs-var');
    try {
      const { t, calls } = bot(sandboxConfig(needs.dir, { terraform: { vars: {}, secretVars: {} } }));
      await t.command('alice', '/incident', 'declare payments');

      const replies = await t.command('alice', '/sandbox', 'up');

      assert.match(
        textOf(replies[0]),
        /The module in .* requires `region`, which the bot does not pass\. Give it a value in sandbox\.terraform\.vars .* Nothing was created\./,
      );
      assert.deepEqual(calls, ['check'], 'no Terraform run');
      assert.equal(await record(t), null);
      assert.ok(!existsSync(join(needs.dir, 'terraform.tfstate.d')), 'no workspace was created');
      assert.deepEqual(await kinds(t), ['incident.declared']);
    } finally {
      needs.cleanup();
    }
  });

  it('treats a workspace without state as empty: down deletes it without the variables a destroy would need', async () => {
    // What an apply that failed on a missing variable left behind: workspace inc-1, no state in it.
    const needs = copyModule('needs-var');
    try {
      tfProbe(needs, ['init', '-input=false', '-no-color']);
      tfProbe(needs, ['workspace', 'new', '-no-color', 'inc-1']);
      tfProbe(needs, ['workspace', 'select', '-no-color', 'default']);
      assert.deepEqual(listWorkspaces(needs), ['default', 'inc-1']);
      const { t } = bot(sandboxConfig(needs.dir, { terraform: { vars: {}, secretVars: {} } }));
      await t.command('alice', '/incident', 'declare payments');
      const left: SandboxRecord = {
        incident: 'INC-1',
        service: 'payments',
        channel: 'C0INCIDENT',
        workspace: 'inc-1',
        dir: needs.dir,
        state: 'failed',
        requestedBy: { type: 'user', ...USERS.alice },
        requestedAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        evidence: [],
        resources: { planned: 0, done: 0, failed: 0 },
        outputs: [],
        errors: ['No value for required variable'],
        workspaceCreated: true,
        destroyAttempts: 0,
      };
      await t.store.set('sandbox:INC-1', JSON.stringify(left));

      await t.command('alice', '/sandbox', 'down');

      const rec = await record(t);
      assert.equal(rec?.state, 'destroyed', rec?.errors.join('\n'));
      assert.deepEqual(listWorkspaces(needs), ['default']);
      assert.ok(
        !t.chat.sent.some((s) => /could not be destroyed/.test(textOf(s.message))),
        'no @here for an empty workspace',
      );
      const down = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'sandbox.down');
      assert.equal(down?.data.removed, 0);
    } finally {
      needs.cleanup();
    }
  });

  const CONN = 'Sb0xAPPconn-7f3a9c2e1d';
  const CONN_ENV = { ...process.env, SANDBOX_CONN: CONN };
  /** Any 5 characters of the secret in a row: a cut secret leaks as much as a whole one. */
  const CONN_PIECES = new RegExp(
    Array.from({ length: CONN.length - 4 }, (_, i) => CONN.slice(i, i + 5).replace(/[-]/g, '\\-')).join('|'),
  );

  function connConfig(dir: string, vars: Record<string, unknown> = {}): Config {
    return sandboxConfig(dir, { terraform: { vars, secretVars: { conn: { env: 'SANDBOX_CONN' } } } });
  }

  it('hides a secret variable that Terraform puts into a resource address, in chat, logs, the timeline and the record', async () => {
    const module = copyModule('secret-key');
    try {
      const { t } = bot(connConfig(module.dir), { env: CONN_ENV });
      await t.command('alice', '/incident', 'declare payments');

      await t.command('alice', '/sandbox', 'up');
      const rec = await record(t);
      assert.equal(rec?.state, 'up', rec?.errors.join('\n'));
      await t.command('alice', '/sandbox', 'down');

      assert.equal((await record(t))?.state, 'destroyed');
      const thread = threadTexts(t, rec).join('\n');
      assert.match(thread, /✓ terraform_data\.conn\[\\?"app:\[redacted\]\\?"\]: create/);
      assert.match(thread, /1 resource\(s\) removed/);
      assert.doesNotMatch(everything(t), CONN_PIECES);
      assert.doesNotMatch(await stored(t), CONN_PIECES);
    } finally {
      module.cleanup();
    }
  });

  it('hides a secret quoted by a long validation message before cutting it, everywhere it goes', async () => {
    const module = copyModule('secret-key');
    try {
      const { t } = bot(connConfig(module.dir, { reject_conn: true }), { env: CONN_ENV });
      await t.command('alice', '/incident', 'declare payments');

      await t.command('alice', '/sandbox', 'up');

      const rec = await record(t);
      assert.equal(rec?.state, 'failed');
      assert.doesNotMatch(everything(t), CONN_PIECES);
      assert.doesNotMatch(await stored(t), CONN_PIECES);
      const error = rec?.errors.find((e) => e.startsWith('Invalid value for variable')) ?? '';
      assert.match(error, /conn=\[redacted\]|\[…\]$/);
      assert.ok(error.length <= 600, `cut to 600 characters (${error.length})`);
      assert.match(error, /\.( \[…\])?$/, 'cut at the end of a sentence');

      // The plan failed, so the workspace is empty: down removes it and says nothing existed in it.
      await t.command('alice', '/sandbox', 'down');
      assert.equal((await record(t))?.state, 'destroyed');
      assert.deepEqual(listWorkspaces(module), ['default']);
    } finally {
      module.cleanup();
    }
  });

  it('passes ephemeral replies, blocks included, through the redactor that knows every secretVars value', async () => {
    const module = copyModule('secret-key');
    try {
      const { t } = bot(connConfig(module.dir), { env: CONN_ENV });
      await t.command('alice', '/incident', 'declare payments');
      // A record written before this fix (or by any path that forgot to scrub) holds the value in its errors.
      const left: Partial<SandboxRecord> = {
        incident: 'INC-1',
        service: 'payments',
        channel: 'C0INCIDENT',
        workspace: 'inc-1',
        dir: module.dir,
        state: 'failed',
        requestedBy: { type: 'user', ...USERS.alice },
        requestedAt: new Date().toISOString(),
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        evidence: [],
        resources: { planned: 1, done: 0, failed: 1 },
        outputs: [],
        errors: [`could not reach the broker with ${CONN}`],
        workspaceCreated: true,
        destroyAttempts: 0,
      };
      await t.store.set('sandbox:INC-1', JSON.stringify(left));

      const status = await t.command('alice', '/sandbox', 'status');

      assert.match(textOf(status[0]), /could not reach the broker with \[redacted\]/);
      assert.doesNotMatch(textOf(status[0]), CONN_PIECES);
    } finally {
      module.cleanup();
    }
  });

  it('recognises an apply a dead bot left running, from the timer and from status, and tears down what state holds', async () => {
    const { t } = bot(sandboxConfig(copy.dir));
    await t.command('alice', '/incident', 'declare payments');
    await t.command('alice', '/sandbox', 'up');
    // The bot died while applying: the record still says creating, its run lock has expired, the timer is due.
    await updateJson<SandboxRecord>(t.store, 'sandbox:INC-1', (r) => (r ? { ...r, state: 'creating' } : r));
    await t.store.schedule('schedule:sandbox-ttl', 'INC-1', Date.now());

    await t.bot.start();
    await until('the interrupted apply to be recognised', async () => (await record(t))?.state === 'failed');
    await t.bot.idle();

    const rec = await record(t);
    assert.ok(rec?.interruptedAt);
    const status = await t.command('carol', '/sandbox', 'status');
    assert.match(textOf(status[0]), /Apply interrupted \(the bot stopped while Terraform ran/);
    const failed = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'sandbox.failed');
    assert.equal(failed?.data.stage, 'interrupted');
    assert.match(threadTexts(t, rec).join('\n'), /The apply of sandbox `inc-1` was interrupted/);
    const ttl = await t.store.due('schedule:sandbox-ttl', Date.parse(rec?.expiresAt ?? ''));
    assert.deepEqual(ttl, ['INC-1'], 'the TTL still stands');

    await t.command('carol', '/sandbox', 'down');

    assert.equal((await record(t))?.state, 'destroyed');
    const down = (await t.bot.deps.timeline.read('INC-1')).find((e) => e.kind === 'sandbox.down');
    assert.equal(down?.data.removed, 4, "all 4 instances Terraform's state held");
    assert.deepEqual(listWorkspaces(copy), ['default']);
  });

  it('a teardown that cannot start says what may still run, never "Nothing was created", and drops stale outputs', async () => {
    const first = bot(sandboxConfig(copy.dir, { ttl: '2s' }));
    await first.t.command('alice', '/incident', 'declare payments');
    await first.t.command('alice', '/sandbox', 'up');
    assert.equal((await record(first.t))?.state, 'up');
    assert.equal((await first.t.bot.deps.incidents.get('INC-1'))?.checklist.U.state, 'done');
    await first.t.bot.stop();

    // Restarted without the secret's environment variable: the TTL teardown cannot run Terraform.
    const noSecret = { ...process.env, SANDBOX_DB_PASSWORD: '' };
    const second = bot(sandboxConfig(copy.dir, { ttl: '2s' }), { env: noSecret });
    await second.t.bot.start();
    await until('the failed TTL teardown', async () => (await record(second.t))?.state === 'destroy_failed');
    await second.t.bot.stop();

    const escalation = second.t.chat.sent.find((s) => /could not be destroyed/.test(textOf(s.message)));
    assert.ok(escalation);
    assert.match(textOf(escalation.message), /SANDBOX_DB_PASSWORD/);
    assert.doesNotMatch(textOf(escalation.message), /Nothing was created/);
    const status = await second.t.command('carol', '/sandbox', 'status');
    assert.doesNotMatch(
      textOf(status[0]),
      /endpoint = /,
      'outputs of a sandbox being torn down are not shown',
    );
    assert.equal((await second.t.bot.deps.incidents.get('INC-1'))?.checklist.U.state, 'in_progress');
  });
});
