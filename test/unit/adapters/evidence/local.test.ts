// Evidence on disk: streamed in, hashed on the way, renamed only when verified, custody record beside it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalEvidenceStore } from '../../../../src/adapters/evidence/local.ts';
import { HashingFileSink } from '../../../../src/adapters/evidence/file-sink.ts';
import { endStream, safeKey } from '../../../../src/adapters/evidence/store.ts';

function write(stream: NodeJS.WritableStream, data: Buffer): Promise<void> {
  return new Promise((resolve) => (stream.write(data) ? resolve() : stream.once('drain', () => resolve())));
}

describe('local evidence store', () => {
  let dir: string;
  let store: LocalEvidenceStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cs-evidence-'));
    store = new LocalEvidenceStore(dir);
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips an artifact: same bytes on disk, SHA-256 and size in the custody record', async () => {
    const content = randomBytes(3 * 1024 * 1024 + 11);
    const writer = await store.create('INC-1/payments/payments-a/20261126T094107Z-heap-dump.hprof.gz');
    for (let at = 0; at < content.length; at += 65536) await write(writer.stream, content.subarray(at, at + 65536));
    const sha256 = createHash('sha256').update(content).digest('hex');

    const stored = await writer.commit({ pod: 'payments-a', requestedBy: 'alice (U0ALICE)' }, (got) =>
      got.sha256 === sha256 ? undefined : 'mismatch',
    );

    assert.equal(stored.partial, false);
    assert.equal(stored.size, content.length);
    assert.equal(stored.sha256, sha256);
    const path = fileURLToPath(stored.uri);
    assert.equal(path, join(dir, 'INC-1/payments/payments-a/20261126T094107Z-heap-dump.hprof.gz'));
    assert.deepEqual(readFileSync(path), content);
    const custody = JSON.parse(readFileSync(`${path}.custody.json`, 'utf8')) as Record<string, unknown>;
    assert.equal(custody.status, 'complete');
    assert.equal(custody.sha256, sha256);
    assert.equal(custody.requestedBy, 'alice (U0ALICE)');
    assert.deepEqual(readdirSync(join(dir, 'INC-1/payments/payments-a')).sort(), [
      '20261126T094107Z-heap-dump.hprof.gz',
      '20261126T094107Z-heap-dump.hprof.gz.custody.json',
    ]);
  });

  it('never gives a partial or unverified artifact the complete name', async () => {
    const mismatched = await store.create('INC-1/p/a-heap.bin');
    await write(mismatched.stream, Buffer.from('not what the pod has'));
    const bad = await mismatched.commit({}, () => 'sha256 mismatch: the pod says 00…');
    assert.equal(bad.partial, true);
    assert.equal(bad.problem, 'sha256 mismatch: the pod says 00…');
    assert.ok(bad.uri.endsWith('a-heap.bin.partial'));
    assert.equal(existsSync(join(dir, 'INC-1/p/a-heap.bin')), false);

    const cut = await store.create('INC-1/p/b-heap.bin');
    await write(cut.stream, Buffer.alloc(1000, 7));
    const kept = await cut.keepPartial({ reason: 'stream cut' });
    assert.equal(kept?.size, 1000);
    assert.equal(kept?.partial, true);
    const custody = JSON.parse(readFileSync(`${fileURLToPath(kept?.uri ?? '')}.custody.json`, 'utf8')) as Record<string, unknown>;
    assert.equal(custody.status, 'partial');
    assert.equal(custody.reason, 'stream cut');

    const nothing = await store.create('INC-1/p/c-heap.bin');
    assert.equal(await nothing.keepPartial({}), undefined);
    assert.deepEqual(readdirSync(join(dir, 'INC-1/p')).filter((f) => f.startsWith('c-')), []);
  });

  it('stores every byte of an artifact bigger than its staging buffers, written in uneven pieces', async () => {
    // 13 MiB in 48 KiB pieces: the staging buffers fill, wrap around and make the writer wait for the disk.
    const content = randomBytes(13 * 1024 * 1024 + 5);
    const writer = await store.create('INC-1/p/big-heap.bin');
    for (let at = 0; at < content.length; at += 48 * 1024) await write(writer.stream, content.subarray(at, at + 48 * 1024));
    const sha256 = createHash('sha256').update(content).digest('hex');

    const stored = await writer.commit({}, (got) => (got.sha256 === sha256 ? undefined : 'mismatch'));

    assert.equal(stored.partial, false);
    assert.equal(stored.size, content.length);
    assert.ok(readFileSync(fileURLToPath(stored.uri)).equals(content), 'the file holds exactly the bytes written');
  });

  it('flushes to disk in the background while the bytes stream in, so the fsync before commit has only the tail', async () => {
    const path = join(dir, 'flushed.bin');
    const sink = new HashingFileSink(openSync(path, 'wx'), { syncEveryBytes: 1024 * 1024 });
    const content = randomBytes(6 * 1024 * 1024 + 3);
    for (let at = 0; at < content.length; at += 32 * 1024) await write(sink, content.subarray(at, at + 32 * 1024));
    await endStream(sink);

    assert.ok(sink.backgroundSyncs >= 1, `background flushes: ${sink.backgroundSyncs}`);
    assert.ok(readFileSync(path).equals(content), 'the file holds exactly the bytes written');
  });

  it('fails the stream as soon as a background flush fails, not only at the end', async () => {
    // fdatasync on /dev/null is EINVAL: it stands in for a disk that refuses the flush (EIO).
    const sink = new HashingFileSink(openSync('/dev/null', 'w'), { syncEveryBytes: 1024 * 1024 });
    let error: NodeJS.ErrnoException | undefined;
    const failed = new Promise<void>((resolve) =>
      sink.once('error', (err) => {
        error = err;
        resolve();
      }),
    );
    const block = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 256 && !error; i++) await Promise.race([write(sink, block), failed]);

    assert.equal(error?.code, 'EINVAL');
    assert.ok(!sink.writableEnded, 'the failure arrived while the stream was still being written');
  });

  it('fails the stream with the disk error when a write fails (ENOSPC), and closes the file', async () => {
    const sink = new HashingFileSink(openSync('/dev/full', 'w'));
    const closed = new Promise((resolve) => sink.once('close', resolve));
    sink.on('error', () => {});
    for (let i = 0; i < 12; i++) sink.write(Buffer.alloc(1024 * 1024, i));
    await assert.rejects(endStream(sink), (err: NodeJS.ErrnoException) => err.code === 'ENOSPC');
    await closed;
  });

  it('keeps keys inside the store', () => {
    assert.equal(safeKey('../../etc/passwd'), 'etc/passwd');
    assert.equal(safeKey('INC-1/pay ments/x;rm -rf'), 'INC-1/pay_ments/x_rm_-rf');
  });
});
