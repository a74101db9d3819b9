// The Terraform adapter: parsing the -json UI stream, and the real CLI (workspace isolation, timeouts, no leaks).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  childEnv,
  countStateInstances,
  cutText,
  errorLines,
  parseUiLine,
  TerraformCli,
  type TerraformTarget,
} from '../../../src/adapters/terraform.ts';
import { copyModule, pullState, type ModuleCopy } from '../../support/terraform.ts';

// Lines as Terraform 1.11 prints them with -json (captured from real runs).
const LINES = {
  planned:
    '{"@level":"info","@message":"terraform_data.replica[0]: Plan to create","@module":"terraform.ui","@timestamp":"2026-11-26T09:56:54.072677Z","change":{"resource":{"addr":"terraform_data.replica[0]","module":"","resource":"terraform_data.replica[0]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"replica","resource_key":0},"action":"create"},"type":"planned_change"}',
  plan: '{"@level":"info","@message":"Plan: 2 to add, 0 to change, 0 to destroy.","@module":"terraform.ui","@timestamp":"2026-11-26T09:56:54.072916Z","changes":{"add":2,"change":0,"import":0,"remove":0,"operation":"plan"},"type":"change_summary"}',
  complete:
    '{"@level":"info","@message":"terraform_data.env: Creation complete after 0s [id=0afc1b13]","@module":"terraform.ui","@timestamp":"2026-11-26T09:56:54.083075Z","hook":{"resource":{"addr":"terraform_data.env","module":"","resource":"terraform_data.env","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"env","resource_key":null},"action":"create","id_key":"id","id_value":"0afc1b13","elapsed_seconds":0},"type":"apply_complete"}',
  errored:
    '{"@level":"info","@message":"terraform_data.broken[0]: Creation errored after 0s","@module":"terraform.ui","@timestamp":"2026-11-26T09:58:35.668978Z","hook":{"resource":{"addr":"terraform_data.broken[0]","module":"","resource":"terraform_data.broken[0]","implied_provider":"terraform","resource_type":"terraform_data","resource_name":"broken","resource_key":0},"action":"create","elapsed_seconds":0},"type":"apply_errored"}',
  diagnostic:
    '{"@level":"error","@message":"Error: local-exec provisioner error","@module":"terraform.ui","@timestamp":"2026-11-26T09:58:35.677790Z","diagnostic":{"severity":"error","summary":"local-exec provisioner error","detail":"Error running command \'exit 3\': exit status 3. Output: creating the database failed\\n","address":"terraform_data.broken[0]","range":{"filename":"bad.tf","start":{"line":8,"column":28,"byte":169},"end":{"line":8,"column":29,"byte":170}},"snippet":{"context":"resource \\"terraform_data\\" \\"broken\\"","code":"  provisioner \\"local-exec\\" {","start_line":8,"highlight_start_offset":27,"highlight_end_offset":28,"values":[]}},"type":"diagnostic"}',
  plannedOutputs:
    '{"@level":"info","@message":"Outputs: 2","@module":"terraform.ui","@timestamp":"2026-11-26T09:56:54.072974Z","outputs":{"db_password":{"sensitive":true,"action":"create"},"endpoint":{"sensitive":false,"action":"create"}},"type":"outputs"}',
  appliedOutputs:
    '{"@level":"info","@message":"Outputs: 2","@module":"terraform.ui","@timestamp":"2026-11-26T09:56:54.085727Z","outputs":{"db_password":{"sensitive":true,"type":"string"},"endpoint":{"sensitive":false,"type":"string","value":"http://payments.INC-7.sandbox.local"}},"type":"outputs"}',
};

describe('terraform adapter', () => {
  describe('parseUiLine', () => {
    it('turns resource messages into progress events', () => {
      assert.deepEqual(parseUiLine(LINES.planned), {
        kind: 'progress',
        event: { type: 'planned', address: 'terraform_data.replica[0]', action: 'create' },
      });
      assert.deepEqual(parseUiLine(LINES.complete), {
        kind: 'progress',
        event: { type: 'complete', address: 'terraform_data.env', action: 'create', elapsedSeconds: 0 },
      });
      assert.deepEqual(parseUiLine(LINES.errored), {
        kind: 'progress',
        event: { type: 'errored', address: 'terraform_data.broken[0]', action: 'create', elapsedSeconds: 0 },
      });
      assert.deepEqual(parseUiLine(LINES.plan), {
        kind: 'changes',
        operation: 'plan',
        add: 2,
        change: 0,
        remove: 0,
      });
    });

    it('formats a diagnostic with its detail, resource and file:line', () => {
      assert.deepEqual(parseUiLine(LINES.diagnostic), {
        kind: 'diagnostic',
        severity: 'error',
        text: "local-exec provisioner error: Error running command 'exit 3': exit status 3. Output: creating the database failed (resource terraform_data.broken[0], bad.tf:8)",
      });
    });

    it('keeps applied outputs only, without a value for sensitive ones', () => {
      assert.deepEqual(parseUiLine(LINES.plannedOutputs), { kind: 'other' });
      assert.deepEqual(parseUiLine(LINES.appliedOutputs), {
        kind: 'outputs',
        outputs: [
          { name: 'db_password', sensitive: true },
          { name: 'endpoint', sensitive: false, value: 'http://payments.INC-7.sandbox.local' },
        ],
      });
    });

    it('ignores lines it does not know or cannot parse', () => {
      assert.deepEqual(parseUiLine('{"type":"resource_drift","change":{}}'), { kind: 'other' });
      assert.deepEqual(parseUiLine('Terraform has been successfully initialized!'), { kind: 'other' });
      assert.deepEqual(parseUiLine('null'), { kind: 'other' });
    });
  });

  it('cutText ends a long text at a sentence (or a word) and says it was cut', () => {
    const sentences = `${'The broker refused the value. '.repeat(30)}tail`;
    const cut = cutText(sentences, 100);
    assert.ok(cut.length <= 100, String(cut.length));
    assert.match(cut, /refused the value\. \[…\]$/);
    const words = cutText(`${'word '.repeat(40)}`, 50);
    assert.match(words, /word…$/);
    assert.equal(cutText('short', 600), 'short');
  });

  it('countStateInstances counts managed instances of a pulled state, no state as 0', () => {
    assert.equal(countStateInstances(''), 0);
    const state = JSON.stringify({
      resources: [
        { mode: 'managed', instances: [{}, {}] },
        { mode: 'data', instances: [{}] },
        { mode: 'managed', instances: [{}] },
      ],
    });
    assert.equal(countStateInstances(state), 3);
  });

  it('errorLines keeps a plain-text command from its first Error: line on', () => {
    const stderr =
      'There are some problems with the CLI configuration:\n\u001b[33m│ Warning: x\u001b[0m\n\nError: Workspace is not empty\n\nWorkspace "inc-9" is currently tracking the following resource instances:\n  - terraform_data.env\n';
    assert.deepEqual(errorLines(stderr), [
      'Error: Workspace is not empty',
      'Workspace "inc-9" is currently tracking the following resource instances:',
      '- terraform_data.env',
    ]);
  });

  it("childEnv removes the bot's own credentials and keeps the cloud's", () => {
    const env = childEnv(
      {
        SLACK_BOT_TOKEN: 'xoxb-1',
        REDIS_URL: 'redis://x',
        AWS_SESSION_TOKEN: 'aws',
        TF_WORKSPACE: 'prod',
        PATH: '/bin',
      },
      { TF_INPUT: '0' },
    );
    assert.deepEqual(env, { AWS_SESSION_TOKEN: 'aws', PATH: '/bin', TF_INPUT: '0' });
  });

  describe('the real CLI', function () {
    this.timeout(30_000);
    let copy: ModuleCopy;
    beforeEach(() => {
      copy = copyModule('sandbox');
    });
    afterEach(() => copy.cleanup());

    function target(workspace: string, extra: Partial<TerraformTarget> = {}): TerraformTarget {
      return {
        dir: copy.dir,
        workspace,
        vars: { replicas: 1 },
        envVars: { incident_id: workspace.toUpperCase(), service: 'payments' },
        secretEnv: {},
        varFiles: [],
        ...extra,
      };
    }

    it('check refuses an apply whose module requires a variable nobody gives, but not a destroy', async () => {
      writeFileSync(join(copy.dir, 'extra.tf'), 'variable "region" {}\nvariable "image_digest" {}\n');
      const cli = new TerraformCli({ workDir: copy.work, env: { ...process.env, TF_VAR_image_digest: 'x' } });
      await assert.rejects(
        cli.check(target('inc-11')),
        /requires `region`, which the bot does not pass\. Give it a value in sandbox\.terraform\.vars/,
      );
      assert.match(await cli.check(target('inc-11'), 'destroy'), /^1\.\d+\.\d+/);
      assert.match(await cli.check(target('inc-11', { vars: { region: 'eu-west-1' } })), /^1\.\d+\.\d+/);
      const bare = join(copy.work, 'bare');
      mkdirSync(bare, { recursive: true });
      writeFileSync(join(bare, 'main.tf'), 'variable "image" {}\n');
      await assert.rejects(
        cli.check(target('inc-11', { dir: bare })),
        /requires `image`, which the bot sets from the latest \/telemetry snapshot.* Run `\/telemetry` first/,
      );
    });

    it('check refuses a Terraform too old for init -json, and a binary that is not Terraform', async () => {
      const fake = join(copy.work, 'terraform-1.5');
      mkdirSync(copy.work, { recursive: true });
      writeFileSync(fake, '#!/bin/sh\necho \'{"terraform_version":"1.5.7","platform":"linux_amd64"}\'\n', {
        mode: 0o755,
      });
      const old = new TerraformCli({ binary: fake, workDir: copy.work });
      await assert.rejects(
        old.check(target('inc-10')),
        /Terraform 1\.5\.7 is too old for the bot: it needs 1\.9 or later/,
      );
      const notTerraform = new TerraformCli({ binary: 'true', workDir: copy.work });
      await assert.rejects(
        notTerraform.check(target('inc-10')),
        /true ran but did not report a Terraform version/,
      );
      assert.match(await new TerraformCli({ workDir: copy.work }).check(target('inc-10')), /^1\.\d+\.\d+/);
    });

    it('runs two workspaces of one module at the same time without switching each other', async () => {
      const tf = new TerraformCli({ workDir: copy.work });

      const [a, b] = await Promise.all([tf.apply(target('inc-11')), tf.apply(target('inc-12'))]);

      assert.equal(a.ok, true, a.errors.join('\n'));
      assert.equal(b.ok, true, b.errors.join('\n'));
      for (const ws of ['inc-11', 'inc-12']) {
        const env = pullState(copy, ws).resources.find((r) => r.name === 'environment');
        const input = env?.instances[0]?.attributes.input as { value: { incident: string } };
        assert.equal(input.value.incident, ws.toUpperCase(), `${ws} holds its own incident`);
      }
      // The private var file is gone after the run; nothing was written into the module directory but state.
      const dataDirs = readdirSync(copy.work, { recursive: true }).map(String);
      assert.ok(!dataDirs.some((f) => f.endsWith('.tfvars.json')), dataDirs.join(','));
      assert.deepEqual(readdirSync(copy.dir).sort(), ['main.tf', 'terraform.tfstate.d']);
    });

    it('interrupts a run that exceeds its timeout and says so', async () => {
      const slow = copyModule('slow');
      try {
        const tf = new TerraformCli({ workDir: slow.work, killGraceMs: 5000 });
        const result = await tf.apply({
          ...target('inc-13'),
          dir: slow.dir,
          vars: {},
          envVars: {},
          timeoutMs: 1000,
        });
        assert.equal(result.ok, false);
        assert.equal(result.timedOut, true);
        assert.match(
          result.errors[0] ?? '',
          /terraform apply took longer than 1s \(sandbox\.terraform\.timeout\) and was interrupted/,
        );
      } finally {
        slow.cleanup();
      }
    });

    it('hides secret variable values from every line it returns', async () => {
      const secret = 'sup3r-secret-value-42';
      const tf = new TerraformCli({ workDir: copy.work, env: { ...process.env, DB_PW: secret } });
      // replica_class is not declared sensitive and its validation message quotes the value it got.
      const result = await tf.apply(target('inc-14', { secretEnv: { replica_class: 'DB_PW' } }));
      assert.equal(result.ok, false);
      const text = result.errors.join('\n');
      assert.match(
        text,
        /Invalid value for variable: replica_class "\[redacted\]" must be lower-case letters/,
      );
      assert.ok(!text.includes(secret), text);
      assert.ok(!existsSync(join(copy.dir, '.terraform')));
    });
  });
});
