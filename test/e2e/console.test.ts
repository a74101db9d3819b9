// Console mode end to end: `node src/main.ts` with no Slack tokens, driven by a script piped to stdin.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_CACHE_ENV } from '../support/node-cache.ts';

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

function runConsole(script: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/main.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...NODE_CACHE_ENV,
        CLOUD_SAFETY_CONFIG: 'test/fixtures/console.yml',
        CONSOLE_FILES_DIR: mkdtempSync(join(tmpdir(), 'cs-console-')),
        PORT: '0',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000); // a safety net only: startup alone can take 10 s on a loaded 2-core machine
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.end(`${script.join('\n')}\n`);
  });
}

describe('console mode (piped stdin)', function () {
  this.timeout(90_000);
  it('runs a whole incident: declare, pin, timeline, resolve', async () => {
    const run = await runConsole([
      '# a drill',
      '/incident declare payments sev=1 Cloud pods OOMKilled',
      'payments-7f9c heap at 97% of limit',
      '/react 2',
      '/timeline',
      '/incident resolve traffic back on legacy',
      '/timeline',
    ]);

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /REDIS_URL is not set: using an in-process store/);
    assert.match(run.stderr, /You are alice in #incident/);
    assert.match(run.stdout, /▌ INCIDENT INC-1 · PAYMENTS · SEV1/);
    assert.match(run.stdout, /○ C Contain the blast radius: not started/);
    assert.match(run.stdout, /📌 message \[1\] pinned to #incident/);
    assert.match(run.stdout, /\[2\] alice: payments-7f9c heap at 97% of limit/);
    assert.match(run.stdout, /alice pinned: "payments-7f9c heap at 97% of limit"/);
    assert.match(run.stdout, /Hash chain verified: 2 events/);
    assert.match(run.stdout, /▌ RESOLVED INC-1 · PAYMENTS · SEV1/);
    assert.match(run.stdout, /Hash chain verified: 3 events/);
  });

  it('gives the usage for bad input and refuses people who are not responders', async () => {
    const run = await runConsole([
      '/incident declare nosuch',
      '/contain-everything now',
      '/as mallory',
      '/incident status',
      '/click 9',
      '/click approve',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Unknown service "nosuch"\. Configured services: payments, checkout\./);
    assert.match(run.stdout, /\/contain-everything is not a cloud-safety command\. Try \/incident help\./);
    assert.match(run.stdout, /You are now mallory\./);
    assert.match(run.stdout, /Only responders can run cloud-safety commands/);
    assert.match(run.stdout, /There is no button \[9\]/);
    assert.match(
      run.stdout,
      /No approval card has been posted yet; \/click approve presses Approve on the newest one\./,
    );
  });

  it('runs the incident lifecycle: its own channel, roles, severity, updates, list, bad input', async () => {
    const run = await runConsole([
      '/incident declare payments sev=2 channel=new Checkout latency',
      '/channel #inc-1-payments',
      '/incident role commander @bob',
      '/incident role comms @carol',
      '/incident role janitor @dave',
      '/incident sev 6 worse',
      '/incident sev 1 card payments failing too',
      '/incident update Traffic back on legacy; next update in 30 min',
      '/incident list',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /# created channel #inc-1-payments/);
    assert.match(run.stdout, /# invited alice to #inc-1-payments/);
    assert.match(run.stdout, /INC-1 declared on payments \(SEV2\): Checkout latency → #inc-1-payments/);
    assert.match(run.stdout, /bob is now commander of INC-1 \(was alice\)/);
    assert.match(run.stdout, /Unknown role "janitor"\. Roles here: commander, comms, scribe/);
    assert.match(run.stdout, /"6" is not a severity; give 1 \(worst\) to 5/);
    assert.match(run.stdout, /INC-1 is now SEV1 \(was SEV2\)/);
    assert.match(run.stdout, /Update on INC-1 · payments · SEV1/);
    assert.match(run.stdout, /OPEN INCIDENTS \(1\)/i);
    assert.match(run.stdout, /INC-1 · payments · SEV1 · commander bob · #inc-1-payments · steps done: none/);
  });

  it('lists every command with an example in /incident help', async () => {
    const run = await runConsole(['/incident help']);
    assert.match(run.stdout, /▌ CLOUD-SAFETY COMMANDS/);
    assert.match(run.stdout, /\/incident — Declare, follow and resolve an incident in this channel/);
    assert.match(run.stdout, /\/timeline — Show this channel's incident timeline/);
  });

  it('stops with a clear message when the config is broken', async () => {
    const run = await runConsole([], { CLOUD_SAFETY_CONFIG: 'test/fixtures/does-not-exist.yml' });
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /test\/fixtures\/does-not-exist\.yml does not exist\. Copy cloud-safety\.example\.yml/,
    );
  });
});
