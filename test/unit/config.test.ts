// Config validation: a broken cloud-safety.yml names the path and the problem.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig, resolveSecret } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

function writeYaml(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'cs-config-')), 'cloud-safety.yml');
  writeFileSync(path, text);
  return path;
}

describe('config', () => {
  it('loads the example config shipped with the project', () => {
    const config = loadConfig('cloud-safety.example.yml');
    assert.ok(Object.keys(config.services).includes('payments'));
  });

  it('fills defaults: approval TTL 15 minutes, no break-glass, pushpin, ./evidence', () => {
    const config = parseConfig(
      { access: { responders: ['U1'], approvers: ['U2'] }, services: { payments: {} } },
      'x',
    );
    assert.equal(config.access.approvalTtl, 15 * 60_000);
    assert.equal(config.access.breakGlass, false);
    assert.equal(config.timeline.pinReaction, 'pushpin');
    assert.deepEqual(config.evidence, { dir: './evidence' });
  });

  it('names the path and the problem of every error', () => {
    const path = writeYaml(
      [
        'access:',
        '  responders: []',
        '  approvers: ["@sre-leads"]',
        '  approvalTtl: soon',
        'services:',
        '  Payments!: {}',
        '',
      ].join('\n'),
    );
    assert.throws(
      () => loadConfig(path),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /is not valid:/);
        assert.match(err.message, /access\.responders: .*>=1/);
        assert.match(
          err.message,
          /access\.approvalTtl: "soon" is not a duration; write it like 30s, 15m or 4h/,
        );
        assert.match(err.message, /services\.Payments!: .*service names are lower-case letters/);
        return true;
      },
    );
  });

  it('rejects unknown keys, so a typo is not silently ignored', () => {
    assert.throws(
      () =>
        parseConfig(
          { access: { responders: ['U1'], approvers: ['U2'], aprovalTtl: '5m' }, services: { payments: {} } },
          'cfg.yml',
        ),
      /cfg\.yml is not valid:\n {2}access: Unrecognized key: "aprovalTtl"/,
    );
  });

  it('says where invalid YAML is', () => {
    const path = writeYaml('access:\n  responders: [U1\nservices: {}\n');
    assert.throws(() => loadConfig(path), /is not valid YAML at line \d+/);
  });

  it('resolves secrets named by environment variable and says which is missing', () => {
    assert.equal(
      resolveSecret({ env: 'PD_KEY' }, 'services.payments.pagerduty.routingKey', { PD_KEY: 'R0UT1NG' }),
      'R0UT1NG',
    );
    assert.throws(
      () => resolveSecret({ env: 'PD_KEY' }, 'services.payments.pagerduty.routingKey', {}),
      /services\.payments\.pagerduty\.routingKey names the environment variable PD_KEY, which is not set/,
    );
  });
});
