// Console mode asks the declare form as prompts: `node src/main.ts` with a piped script, one field a line.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NODE_CACHE_ENV } from '../support/node-cache.ts';

function runConsole(script: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['src/main.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...NODE_CACHE_ENV,
        CLOUD_SAFETY_CONFIG: 'test/fixtures/console.yml',
        CONSOLE_FILES_DIR: mkdtempSync(join(tmpdir(), 'cs-console-form-')),
        PORT: '0',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.end(`${script.join('\n')}\n`);
  });
}

describe('console mode: the declare form as prompts', () => {
  it('asks each field, declares with the answers; a bad answer is asked again; a bad form declares nothing', async () => {
    const run = await runConsole([
      '/incident declare',
      'payments',
      '1',
      'Cloud pods OOMKilled',
      '@bob',
      'sideways',
      '',
      '/incident status',
      '/channel #other',
      '/incident declare',
      'paymnts',
      '',
      'x',
      '',
      '',
      '/incident declare',
      '/cancel',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /\(a form: answer each field on its own line; \/cancel drops it\)\nDeclare an incident · Service \[payments \| checkout\]:/,
    );
    assert.match(
      run.stdout,
      /Declare an incident · Severity \[SEV1 \| SEV2 \| SEV3 \| SEV4 \| SEV5\] \(empty: SEV2\):/,
    );
    assert.match(run.stdout, /Declare an incident · Commander \[@name\] \(empty: alice\):/);
    assert.match(run.stdout, /sideways: choose from new, private, or none\.\nDeclare an incident · Channel/);
    assert.match(run.stdout, /▌ INCIDENT INC-1 · PAYMENTS · SEV1\n🚨 Cloud pods OOMKilled/);
    assert.match(run.stdout, /Commander: bob/);
    assert.match(
      run.stdout,
      /service: Unknown service; configured: payments, checkout\.\nNothing was done; run the command again\./,
    );
    assert.doesNotMatch(run.stdout, /INC-2/);
    assert.match(run.stdout, /Form dropped; nothing was done\./);
  });
});
