// The sandbox section of cloud-safety.yml: defaults, and errors that name the path that is wrong.
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';
import { buildAdapters } from '../../src/main.ts';
import { createMetrics } from '../../src/metrics.ts';
import { memoryLogger } from '../support/bot.ts';

const access = { responders: ['U1'], approvers: ['U2'] };

function parse(sandbox: unknown) {
  return parseConfig({ access, services: { payments: { sandbox } } }, 'cloud-safety.yml');
}

describe('config: services.<name>.sandbox', () => {
  it('fills in the defaults', () => {
    const sandbox = parse({ terraform: { dir: './infra/sandbox' } }).services.payments?.sandbox;
    assert.deepEqual(sandbox, {
      terraform: {
        dir: './infra/sandbox',
        vars: {},
        secretVars: {},
        workspacePrefix: 'inc-',
        timeout: 1_800_000,
      },
      ttl: 14_400_000,
      destroyRetry: 120_000,
    });
  });

  it('reads load, durations, plain and secret variables', () => {
    const sandbox = parse({
      terraform: {
        dir: 'tf',
        varFile: 'sandbox.tfvars',
        vars: { replicas: 2, tags: { team: 'sre' } },
        secretVars: { db_password: { env: 'SANDBOX_DB_PASSWORD' } },
      },
      ttl: '90m',
      load: { command: ['k6', 'run', 'smoke.js'], env: { RPS: '50' } },
    }).services.payments?.sandbox;
    assert.equal(sandbox?.ttl, 5_400_000);
    assert.deepEqual(sandbox?.load, {
      command: ['k6', 'run', 'smoke.js'],
      env: { RPS: '50' },
      timeout: 600_000,
    });
    assert.deepEqual(sandbox?.terraform.secretVars, { db_password: { env: 'SANDBOX_DB_PASSWORD' } });
  });

  it('names the path of every mistake', () => {
    assert.throws(
      () =>
        parse({
          terraform: {
            dir: 'tf',
            vars: { image: 'x', replicas: 1 },
            secretVars: { replicas: { env: 'R' } },
            workspacePrefix: 'inc/',
          },
          ttl: 'soon',
          load: { command: [] },
        }),
      (err: Error) => {
        assert.match(
          err.message,
          /services\.payments\.sandbox\.terraform\.workspacePrefix: letters, digits, - and _ only/,
        );
        assert.match(err.message, /services\.payments\.sandbox\.ttl: "soon" is not a duration/);
        assert.match(err.message, /services\.payments\.sandbox\.load\.command: /);
        return true;
      },
    );
    assert.throws(
      () =>
        parse({
          terraform: { dir: 'tf', vars: { image: 'x', replicas: 1 }, secretVars: { replicas: { env: 'R' } } },
        }),
      (err: Error) => {
        assert.match(
          err.message,
          /services\.payments\.sandbox\.terraform\.vars\.image: image is set by the bot from the incident/,
        );
        assert.match(
          err.message,
          /services\.payments\.sandbox\.terraform\.secretVars\.replicas: replicas is also in vars/,
        );
        return true;
      },
    );
    assert.throws(() => parse({ terraform: { dir: 'tf' }, ttl: 'forever' }), /sandbox\.ttl/);
    assert.throws(() => parse({ terraform: { path: 'tf' } }), /services\.payments\.sandbox\.terraform/);
  });

  it('builds the Terraform adapter only when a service has a sandbox', () => {
    const { log } = memoryLogger();
    const metrics = createMetrics({ defaults: false });
    const withSandbox = buildAdapters(parse({ terraform: { dir: 'tf' } }), {}, metrics, log);
    assert.ok(withSandbox.terraform && withSandbox.loadRunner);
    const without = buildAdapters(parseConfig({ access, services: { payments: {} } }, 'x'), {}, metrics, log);
    assert.equal(without.terraform, undefined);
  });
});
