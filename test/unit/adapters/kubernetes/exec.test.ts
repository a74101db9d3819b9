// The exec wrapper against a local WebSocket server speaking v4.channel.k8s.io: bytes, exit codes, cuts, backpressure.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Writable } from 'node:stream';
import { KubeCluster } from '../../../../src/adapters/kubernetes/client.ts';
import { execUrl, exitCodeOf } from '../../../../src/adapters/kubernetes/exec.ts';
import { ExecError } from '../../../../src/adapters/kubernetes/types.ts';
import { createMetrics } from '../../../../src/metrics.ts';
import { FakeCluster, K8S_TOKEN, NAMESPACE } from '../../../../src/drill/kubernetes.ts';

function collector(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    }),
    bytes: () => Buffer.concat(chunks),
  };
}

describe('exec over v4.channel.k8s.io', () => {
  let server: FakeCluster;
  let cluster: KubeCluster;
  const target = { namespace: NAMESPACE, pod: 'payments-a', container: 'app' };

  beforeEach(async () => {
    server = new FakeCluster();
    await server.start();
    cluster = new KubeCluster(server.kubeConfig(), createMetrics({ defaults: false }));
  });

  afterEach(async () => {
    await server.stop();
    assert.deepEqual(server.unexpected, []);
  });

  it('builds the exec URL with repeated command parameters, container, stdout and stderr', () => {
    const url = execUrl('https://10.0.0.1:6443/k8s/clusters/c-1', {
      namespace: 'payments',
      pod: 'payments-a',
      container: 'app',
      command: ['sh', '-c', 'wc -c < /tmp/x'],
    });
    assert.equal(
      url,
      'wss://10.0.0.1:6443/k8s/clusters/c-1/api/v1/namespaces/payments/pods/payments-a/exec?command=sh&command=-c&command=wc+-c+%3C+%2Ftmp%2Fx&container=app&stdout=true&stderr=true',
    );
  });

  it('reads the exit code from the Status frame: Success is 0, NonZeroExitCode carries it in details.causes', () => {
    assert.equal(exitCodeOf({ status: 'Success' }), 0);
    assert.equal(
      exitCodeOf({
        status: 'Failure',
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: '137' }] },
      }),
      137,
    );
    assert.equal(exitCodeOf({ status: 'Failure', reason: 'InternalError', message: 'boom' }), undefined);
  });

  it('streams a file out byte for byte with the bearer token, and completes on status plus close', async () => {
    const content = randomBytes(300 * 1024 + 7);
    server.addPod('payments-a').files.set('/tmp/dump.bin', content);
    const out = collector();

    const result = await cluster.exec({
      ...target,
      command: ['sh', '-c', `tail -c +1 '/tmp/dump.bin' | head -c ${content.length}`],
      stdout: out.stream,
    });

    assert.equal(result.exitCode, 0);
    assert.equal(result.stdoutBytes, content.length);
    assert.equal(
      createHash('sha256').update(out.bytes()).digest('hex'),
      createHash('sha256').update(content).digest('hex'),
    );
    assert.equal(server.execs[0]?.authorization, `Bearer ${K8S_TOKEN}`);
    assert.equal(server.execs[0]?.protocol, 'v4.channel.k8s.io');
    assert.deepEqual(server.execs[0]?.command, [
      'sh',
      '-c',
      `tail -c +1 '/tmp/dump.bin' | head -c ${content.length}`,
    ]);
  });

  it('returns a non-zero exit code with stderr, not an error', async () => {
    server.addPod('payments-a', { tools: new Set(['sh']) });
    const result = await cluster.exec({
      ...target,
      command: ['sh', '-c', 'jcmd 1 Thread.print -l > /tmp/t.txt'],
    });
    assert.equal(result.exitCode, 127);
    assert.match(result.stderr, /jcmd: not found/);
  });

  it('fails with "cut" and the byte count when the stream closes before the status frame', async () => {
    const content = randomBytes(200 * 1024);
    server.addPod('payments-a', { cutAfter: { bytes: 70_000, times: 1 } }).files.set('/tmp/d', content);
    const out = collector();
    const err = await cluster
      .exec({
        ...target,
        command: ['sh', '-c', `tail -c +1 '/tmp/d' | head -c ${content.length}`],
        stdout: out.stream,
      })
      .then(
        () => assert.fail('a cut stream must not resolve'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ExecError);
    assert.equal(err.failure, 'cut');
    assert.match(err.message, /closed before the command's exit status arrived/);
    assert.equal(err.stdoutBytes, 70_000);
    assert.deepEqual(out.bytes(), content.subarray(0, 70_000));
  });

  it('names the missing RBAC verb when the API server answers the upgrade with 403', async () => {
    server.forbidExec = true;
    const err = await cluster.exec({ ...target, command: ['sh', '-c', 'true'] }).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ExecError);
    assert.equal(err.failure, 'forbidden');
    assert.match(err.message, /may not create pods\/exec in namespace payments/);
  });

  it('says the pod is not found on 404, and the tool is missing when the image has no shell', async () => {
    const gone = await cluster.exec({ ...target, pod: 'payments-gone', command: ['sh', '-c', 'true'] }).then(
      () => assert.fail('expected not found'),
      (e: unknown) => e,
    );
    assert.ok(gone instanceof ExecError);
    assert.equal(gone.failure, 'not-found');
    assert.match(gone.message, /pods "payments-gone" not found/);

    server.addPod('payments-a', { noShell: true });
    const distroless = await cluster.exec({ ...target, command: ['sh', '-c', 'true'] }).then(
      () => assert.fail('expected a start failure'),
      (e: unknown) => e,
    );
    assert.ok(distroless instanceof ExecError);
    assert.equal(distroless.failure, 'missing-tool');
  });

  it('pauses the socket while a slow sink is full, so memory stays bounded', async () => {
    const content = randomBytes(8 * 1024 * 1024);
    server.addPod('payments-a').files.set('/tmp/big', content);
    const hash = createHash('sha256');
    let maxQueued = 0;
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        setImmediate(done);
      },
    });
    const watch = new PassThrough({ highWaterMark: 64 * 1024 });
    const origWrite = watch.write.bind(watch);
    watch.write = ((chunk: Buffer) => {
      const ok = origWrite(chunk);
      maxQueued = Math.max(maxQueued, watch.writableLength + watch.readableLength);
      return ok;
    }) as typeof watch.write;
    watch.pipe(slow);

    const result = await cluster.exec({
      ...target,
      command: ['sh', '-c', `tail -c +1 '/tmp/big' | head -c ${content.length}`],
      stdout: watch,
    });
    watch.end();
    await new Promise((r) => slow.on('finish', r));

    assert.equal(result.stdoutBytes, content.length);
    assert.equal(hash.digest('hex'), createHash('sha256').update(content).digest('hex'));
    assert.ok(maxQueued < 2 * 1024 * 1024, `at most ~2 MiB queued in the sink, saw ${maxQueued}`);
  });

  it('gets every byte intact from the API server double, which reuses a bounded set of frame buffers', async () => {
    const content = randomBytes(16 * 1024 * 1024 + 5);
    server.addPod('payments-a').files.set('/tmp/big', content);
    const hash = createHash('sha256');
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done();
      },
    });

    const result = await cluster.exec({
      ...target,
      command: ['sh', '-c', `tail -c +1 '/tmp/big' | head -c ${content.length}`],
      stdout: sink,
    });

    assert.equal(result.stdoutBytes, content.length);
    assert.equal(hash.digest('hex'), createHash('sha256').update(content).digest('hex'));
    // 512 full frames went out; the double keeps at most 64 (2 MiB) with the socket before it waits.
    assert.ok(server.frameBuffers > 0 && server.frameBuffers <= 80, `frame buffers: ${server.frameBuffers}`);
  });

  it('completes after a grace period when the server sends the status but never closes', async () => {
    server.addPod('payments-a', { holdOpen: true }).files.set('/tmp/s', Buffer.from('abc'));
    const out = collector();
    const result = await cluster.exec({
      ...target,
      command: ['sh', '-c', `tail -c +1 '/tmp/s' | head -c 3`],
      stdout: out.stream,
      closeTimeoutMs: 50,
    });
    assert.equal(result.exitCode, 0);
    assert.equal(out.bytes().toString(), 'abc');
  });

  it('fails with "timeout" when the stream stalls, keeping the count of bytes that arrived', async () => {
    server.addPod('payments-a', { stallAfter: 64 * 1024 }).files.set('/tmp/s', randomBytes(256 * 1024));
    const err = await cluster
      .exec({
        ...target,
        command: ['sh', '-c', `tail -c +1 '/tmp/s' | head -c 262144`],
        stdout: collector().stream,
        idleTimeoutMs: 150,
      })
      .then(
        () => assert.fail('a stalled stream must not resolve'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof ExecError);
    assert.equal(err.failure, 'timeout');
    assert.match(err.message, /no data from the pod for 150ms/);
    assert.equal(err.stdoutBytes, 64 * 1024);
  });

  it('sends stdin on channel 0', async () => {
    server.addPod('payments-a');
    const input = new PassThrough();
    const out = collector();
    const run = cluster.exec({ ...target, command: ['echo-stdin', '11'], stdin: input, stdout: out.stream });
    input.write('hello ');
    input.write('world');
    const result = await run;
    assert.equal(result.exitCode, 0);
    assert.equal(out.bytes().toString(), 'hello world');
  });
});
