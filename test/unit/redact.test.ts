// Secrets never reach the log: the logger redacts by key, by pattern and by known value.
import assert from 'node:assert/strict';
import { memoryLogger } from '../support/bot.ts';
import { createRedactor } from '../../src/redact.ts';
import { secretValues } from '../../src/main.ts';

describe('redaction', () => {
  it('hides Slack tokens, AWS keys, bearer headers and URL passwords in text', () => {
    const r = createRedactor();
    const text = r.text(
      'token xoxb-123456789012-abcdefABCDEF key AKIAABCDEFGHIJKLMNOP auth Bearer eyJhbGciOiJIUzI1NiJ9.x db postgres://ledger:s3cret@db:5432/pay',
    );
    assert.doesNotMatch(text, /xoxb-1|AKIAABCD|eyJhbGci|s3cret/);
    assert.match(text, /postgres:\/\/ledger:\[redacted\]@db:5432\/pay/);
  });

  it('hides a password that contains @ whole, and the password of a user-less URL', () => {
    const r = createRedactor();
    assert.equal(
      r.text('db postgres://ledger:p@ss@w0rd@db:5432/pay here'),
      'db postgres://ledger:[redacted]@db:5432/pay here',
    );
    assert.equal(
      r.text('cache redis://:hunter2hunter@cache:6379/0'),
      'cache redis://:[redacted]@cache:6379/0',
    );
  });

  it('hides the exact values of configured secrets and secret-looking keys in objects', () => {
    const r = createRedactor(['pd-token-0123456789']);
    const out = r.value({
      header: 'Token token=pd-token-0123456789',
      nested: { password: 'hunter22', user: 'bob' },
    });
    assert.deepEqual(out, {
      header: 'Token token=[redacted]',
      nested: { password: '[redacted]', user: 'bob' },
    });
  });

  it('learns secrets after it was built, and known() keeps values under secret-sounding keys', () => {
    const r = createRedactor();
    r.add(['Sb0xAPPconn-7f3a9c2e1d', undefined, 'short']);
    assert.equal(r.text('app:Sb0xAPPconn-7f3a9c2e1d'), 'app:[redacted]');
    assert.deepEqual(r.known({ tokens: 12, note: ['conn Sb0xAPPconn-7f3a9c2e1d'] }), {
      tokens: 12,
      note: ['conn [redacted]'],
    });
    assert.equal(r.text('short'), 'short', 'values under 6 characters cannot be hidden reliably');
  });

  it('keeps every secret out of the log lines, in messages, metadata and errors', () => {
    const secret = 'xoxb-999999999999-SECRETSECRET';
    const { log, lines } = memoryLogger([secret]);
    log.info({ token: secret, url: 'https://x/?t=' + secret }, `posting with ${secret}`);
    log.error({ err: new Error(`auth failed for ${secret}`) }, 'failed');
    const all = lines.join('\n');
    assert.ok(lines.length >= 2);
    assert.doesNotMatch(all, /SECRETSECRET/);
    assert.match(all, /\[redacted\]/);
  });

  it('collects secret values from the environment by name', () => {
    const values = secretValues({
      SLACK_BOT_TOKEN: 'xoxb-1',
      PAGERDUTY_TOKEN: 'pdtok',
      PATH: '/usr/bin',
      SLACK_SIGNING_SECRET: 'sig',
    });
    assert.deepEqual(values.sort(), ['pdtok', 'sig', 'xoxb-1']);
  });

  it('hides known secrets with regex characters, added later too, and leaves text without secrets as it was', () => {
    const r = createRedactor(['pa$$(w0rd)*']);
    assert.equal(r.text('login with pa$$(w0rd)* now'), 'login with [redacted] now');
    assert.equal(r.text('PA$$(W0RD)* differs in case'), 'PA$$(W0RD)* differs in case');
    r.add(['later.secret+1']);
    assert.equal(r.text('x later.secret+1 y'), 'x [redacted] y');
    assert.equal(r.text('laterXsecret+1'), 'laterXsecret+1', 'a dot in a secret is not a wildcard');
    const plain = 'Incident INC-7 payments: open, step C contain';
    assert.equal(r.text(plain), plain);
  });
});
