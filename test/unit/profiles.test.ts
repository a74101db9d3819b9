// The default runtime profiles: placeholders, and the Node.js inspector script run for real against a node process.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PROFILES, renderCommand, toolOf } from '../../flows/telemetry/profiles.ts';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function step(runtime: keyof typeof DEFAULT_PROFILES, name: string) {
  const found = DEFAULT_PROFILES[runtime].find((s) => s.name === name);
  assert.ok(found, `${runtime} has a ${name} step`);
  return found;
}

describe('runtime profiles', () => {
  it('fills {pid}, {file} and {dir} and names the tool a step needs', () => {
    const heap = step('jvm', 'heap');
    assert.equal(
      renderCommand(heap, { pid: 7, file: '/scratch/x.hprof.gz', dir: '/scratch' }),
      'jcmd 7 GC.heap_dump -gz=1 /scratch/x.hprof.gz',
    );
    assert.equal(toolOf(heap), 'jcmd');
    assert.equal(toolOf(step('go', 'heap')), 'curl');
    assert.equal(toolOf(step('python', 'threads')), 'py-spy');
    assert.deepEqual(
      DEFAULT_PROFILES.jvm.map((s) => s.kind),
      ['thread-dump', 'heap-dump'],
      'the light thread dump comes before the heavy heap dump',
    );
    assert.equal(step('node', 'heap').headroom, 1, 'a V8 snapshot checks free memory first');
  });

  describe('Node.js inspector script (run locally the way sh -c runs it in a pod)', function () {
    let target: ChildProcess | undefined;
    let dir: string;

    before(async function () {
      if (process.platform !== 'linux' || !(await portFree(9229))) this.skip();
    });

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'cs-node-profile-'));
      target = spawn(
        process.execPath,
        [
          '-e',
          'globalThis.keep = Array.from({ length: 1000 }, (_, i) => ({ i })); setInterval(() => {}, 1000)',
        ],
        {
          stdio: 'ignore',
        },
      );
      await new Promise((r) => setTimeout(r, 300));
    });

    afterEach(() => {
      if (target?.pid && target.exitCode === null) process.kill(target.pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('writes a process report and a V8 heap snapshot through the inspector', () => {
      const pid = target?.pid ?? 0;
      const report = join(dir, 'r.report.json');
      const run = spawnSync('sh', ['-c', renderCommand(step('node', 'report'), { pid, file: report, dir })], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(run.status, 0, run.stderr);
      const parsed = JSON.parse(readFileSync(report, 'utf8')) as { header: { processId: number } };
      assert.equal(parsed.header.processId, pid);

      const snapshot = join(dir, 'h.heapsnapshot');
      const heap = spawnSync(
        'sh',
        ['-c', renderCommand(step('node', 'heap'), { pid, file: snapshot, dir })],
        {
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
      assert.equal(heap.status, 0, heap.stderr);
      assert.match(readFileSync(snapshot, 'utf8').slice(0, 40), /^\{"snapshot":\{"meta"/);
      assert.equal(target?.exitCode, null, 'the process survived');
    });

    it('refuses to signal a process that is not node (SIGUSR1 would kill it)', () => {
      const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
      try {
        const run = spawnSync(
          'sh',
          ['-c', renderCommand(step('node', 'report'), { pid: sleeper.pid ?? 0, file: join(dir, 'x'), dir })],
          { encoding: 'utf8', timeout: 10_000 },
        );
        assert.equal(run.status, 3);
        assert.match(run.stderr, /is not a node process/);
        assert.equal(sleeper.exitCode, null);
      } finally {
        if (sleeper.pid) process.kill(sleeper.pid, 'SIGKILL');
      }
    });
  });
});
