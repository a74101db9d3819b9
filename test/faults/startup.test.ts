// The real process at start: Redis unreachable says so in one line; METRICS_PORT moves /metrics off the public port.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, testRedisUrl } from '../support/redis.ts';
import { BOT_TOKEN, SIGNING_SECRET } from '../support/slack.ts';
import { startBotProcess, type BotProcess } from './lib/bot-process.ts';
import { startLocalSlack, type LocalSlack } from './lib/slack-server.ts';
import { CHANNEL } from './lib/fixtures.ts';

describe('faults: the bot process at start (real child processes)', function () {
  this.timeout(60_000);
  let dir: string;
  let slack: LocalSlack;
  const procs: BotProcess[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cs-start-'));
    slack = await startLocalSlack({ channel: CHANNEL });
    const config = { access: { responders: ['U0ALICE'], approvers: ['U0BOB'] }, services: { payments: {} } };
    writeFileSync(join(dir, 'cloud-safety.yml'), JSON.stringify(config)); // JSON is YAML
  });

  afterEach(async () => {
    for (const p of procs.splice(0)) await p.kill('SIGKILL');
    await slack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function env(extra: Record<string, string>): Promise<NodeJS.ProcessEnv> {
    return {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      PORT: String(await freePort()),
      CLOUD_SAFETY_CONFIG: join(dir, 'cloud-safety.yml'),
      LOG_LEVEL: 'info',
      ...extra,
    };
  }

  it('says in one line that Redis is unreachable, without a stack trace or the password, and exits 1', async () => {
    const port = await freePort(); // nothing listens here
    const proc = await startBotProcess(await env({ REDIS_URL: `redis://:s3cret-pass@127.0.0.1:${port}` }));
    procs.push(proc);
    const exit = await new Promise<number | null>((resolve) =>
      proc.child.once('exit', (code) => resolve(code)),
    );

    const text = proc.lines.filter((l) => l.trim() !== '');
    assert.equal(exit, 1);
    assert.equal(text.length, 1, `one line, got:\n${text.join('\n')}`);
    assert.match(
      text[0] ?? '',
      new RegExp(
        `^Redis at 127\\.0\\.0\\.1:${port} is not reachable \\(.*ECONNREFUSED.*\\)\\. Start Redis or fix REDIS_URL`,
      ),
    );
    assert.doesNotMatch(text.join('\n'), /s3cret-pass|\n {4}at |^ {4}at /);
  });

  it('serves /metrics and /readyz on METRICS_PORT only, and /healthz on PORT', async () => {
    const metricsPort = await freePort();
    const e = await env({
      REDIS_URL: await testRedisUrl(),
      REDIS_PREFIX: 'start-test:',
      METRICS_PORT: String(metricsPort),
    });
    const proc = await startBotProcess(e);
    procs.push(proc);
    await proc.waitForLine(/cloud-safety started/);
    const pub = `http://127.0.0.1:${e.PORT}`;
    const internal = `http://127.0.0.1:${metricsPort}`;

    assert.equal((await fetch(`${pub}/healthz`)).status, 200);
    assert.notEqual((await fetch(`${pub}/metrics`)).status, 200, 'no metrics on the public port');
    assert.notEqual((await fetch(`${pub}/readyz`)).status, 200, 'no readiness on the public port');
    const metrics = await fetch(`${internal}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /# TYPE/);
    assert.equal((await fetch(`${internal}/readyz`)).status, 200);
  });
});
