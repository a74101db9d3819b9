// Startup refuses approval policies that name a service or action kind that does not exist, with the path of each.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_CACHE_ENV } from '../support/node-cache.ts';

function start(
  config: string,
  stdin: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'cs-policy-'));
  const path = join(dir, 'cloud-safety.yml');
  writeFileSync(path, config);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/main.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...NODE_CACHE_ENV,
        CLOUD_SAFETY_CONFIG: path,
        CONSOLE_FILES_DIR: dir,
        PORT: '0',
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
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

const BASE = `access:
  responders: ['@sre-oncall']
  approvers: ['@sre-leads']
  groups:
    sre-oncall: [alice, carol]
    sre-leads: [bob]
    dba-leads: [dave]
`;
const SERVICES = `services:
  payments: {}
`;

describe('approval policies at startup (node src/main.ts)', function () {
  this.timeout(90_000);
  it('refuses to start when a policy names an unknown service or kind, and says which and what exists', async () => {
    const run = await start(
      `${BASE}  risk:
    canary.strat: high
  policies:
    - name: ledger
      kinds: [ledger.reconcile, traffic.shfit]
      services: [paymnets]
      approvers: ['@dba-leads']
${SERVICES}`,
      '/incident list\n',
    );
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /approval policies that name what does not exist/);
    assert.match(
      run.stderr,
      /access\.policies\.0\.services\.0: "paymnets" is not a configured service \(services: payments\)/,
    );
    assert.match(
      run.stderr,
      /access\.policies\.0\.kinds\.1: "traffic\.shfit" is not an action kind of this bot \(kinds: .*traffic\.shift/,
    );
    assert.doesNotMatch(run.stderr, /kinds\.0:/, 'ledger.reconcile exists');
    assert.match(
      run.stderr,
      /access\.risk\.canary\.strat: "canary\.strat" is not an action kind of this bot/,
    );
    assert.doesNotMatch(run.stdout, /Open incidents|No open incidents/);
  });

  it('starts with policies that name real services and kinds', async () => {
    const run = await start(
      `${BASE}  policies:
    - kinds: [ledger.reconcile, traffic.shift]
      services: [payments]
      approvers: ['@dba-leads']
${SERVICES}`,
      '/incident list\n',
    );
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /does not exist/);
  });
});
