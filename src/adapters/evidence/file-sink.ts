// A hashing file writer for big artifacts: each chunk is hashed and copied into one of a few reused staging
// buffers at once, and the buffers go to disk as large positional writes.
//
// Why not `pipeline(new HashingStream(), createWriteStream(path))`: that kept every incoming chunk (a 32 KiB
// WebSocket frame of a heap dump, each in a fresh buffer) queued until its write finished, so the chunks outlived
// the young generation and 1 GiB of them were freed only by full garbage collections, one every few hundred
// milliseconds. Copied at once, they die young; the copy costs far less than the collections did.
import { createHash, type Hash } from 'node:crypto';
import { close, fdatasync, fsync, write } from 'node:fs';
import { Writable } from 'node:stream';

/** Bytes per staging buffer: one disk write each. */
const STAGE_BYTES = 1024 * 1024;
/** Staging buffers: one filling while the others are written; memory held is STAGES x STAGE_BYTES. */
const STAGES = 3;
/**
 * Written bytes after which the file is flushed to disk in the background while the stream goes on. With tens of GB
 * of RAM the kernel starts writeback only past gigabytes of dirty pages, so the fsync before commit would otherwise
 * write the whole artifact while everything waits (about a second per GiB here); started early, it overlaps the
 * transfer and the final fsync has only the tail left. Databases do the same (RocksDB's bytes_per_sync).
 */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;

export interface HashingFileSinkOptions {
  /** Flush to disk in the background after this many bytes written (default 32 MiB). */
  syncEveryBytes?: number;
}

export class HashingFileSink extends Writable {
  bytes = 0;
  #hash: Hash = createHash('sha256');
  #digest: string | undefined;
  #fd: number | undefined;
  #stages: Buffer[] = [];
  /** Index of the buffer being filled, and how far. */
  #current = 0;
  #fill = 0;
  /** Buffers full or being written, and the full ones in the order they go to disk. */
  #busy = new Set<number>();
  #queue: { index: number; length: number }[] = [];
  #writing = false;
  /** File offset of the next write. */
  #position = 0;
  /** Waits for the buffer at #current to come back from its write. */
  #waiting: (() => void) | undefined;
  #failed: Error | undefined;
  /** Called once no write or background flush is in flight. */
  #idle: (() => void)[] = [];
  #syncEvery: number;
  /** Bytes written since the last background flush started, and whether one is running. */
  #unsynced = 0;
  #syncing = false;
  /** Background flushes finished so far. */
  backgroundSyncs = 0;

  /** Writes from offset 0 of `fd`, an open file it then owns: fsynced before the stream finishes, closed after. */
  constructor(fd: number, opts: HashingFileSinkOptions = {}) {
    // The staging buffers are the real queue; the stream holds a few frames more before write() says wait.
    super({ highWaterMark: 256 * 1024 });
    this.#fd = fd;
    this.#syncEvery = opts.syncEveryBytes ?? SYNC_EVERY_BYTES;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    this.#stage(chunk, 0, callback);
  }

  /** Copies chunk[from..] into staging buffers, waiting for a buffer whenever all of them are being written. */
  #stage(chunk: Buffer, from: number, callback: (err?: Error | null) => void): void {
    let at = from;
    while (at < chunk.length) {
      if (this.#failed) {
        callback(this.#failed);
        return;
      }
      if (this.#busy.has(this.#current)) {
        this.#waiting = () => this.#stage(chunk, at, callback);
        return;
      }
      const stage = (this.#stages[this.#current] ??= Buffer.allocUnsafeSlow(STAGE_BYTES));
      const n = chunk.copy(stage, this.#fill, at);
      at += n;
      this.#fill += n;
      if (this.#fill === STAGE_BYTES) this.#flushStage();
    }
    callback();
  }

  /** Queues the buffer being filled for the disk and moves on to the next one. */
  #flushStage(onWritten?: (err?: Error) => void): void {
    if (this.#fill > 0) {
      this.#busy.add(this.#current);
      this.#queue.push({ index: this.#current, length: this.#fill });
      this.#current = (this.#current + 1) % STAGES;
      this.#fill = 0;
      this.#pump();
    }
    if (onWritten) this.#settled(() => onWritten(this.#failed));
  }

  /** One write at a time, in order: concurrent writes to one file only queue up on its lock in the kernel. */
  #pump(): void {
    const next = this.#writing ? undefined : this.#queue.shift();
    if (!next) return;
    this.#writing = true;
    const position = this.#position;
    this.#position += next.length;
    this.#writeAll(this.#stages[next.index] as Buffer, 0, next.length, position, (err) => {
      this.#writing = false;
      this.#busy.delete(next.index);
      if (err) this.#failed ??= err;
      const waiting = this.#waiting;
      if (waiting && (err || next.index === this.#current)) {
        this.#waiting = undefined;
        waiting();
      }
      if (this.#failed) this.#dropQueue();
      else this.#syncBehind(next.length);
      this.#pump();
      this.#wakeIdle();
    });
  }

  /** Starts a background flush once enough has been written since the last one (one at a time). */
  #syncBehind(written: number): void {
    this.#unsynced += written;
    if (this.#syncing || this.#unsynced < this.#syncEvery || this.#fd === undefined) return;
    this.#syncing = true;
    this.#unsynced = 0;
    fdatasync(this.#fd, (err) => {
      this.#syncing = false;
      this.backgroundSyncs++;
      // Data the disk refused is not durable: the artifact fails like on a failed write.
      if (err) this.#failed ??= err;
      this.#wakeIdle();
    });
  }

  #wakeIdle(): void {
    if (this.#busy.size === 0 && !this.#syncing) for (const idle of this.#idle.splice(0)) idle();
  }

  /** Forgets the buffers still waiting for the disk (after a failure, or when destroyed). */
  #dropQueue(): void {
    for (const stage of this.#queue.splice(0)) this.#busy.delete(stage.index);
  }

  /** fs.write may write less than asked: keep going until it is all on disk. */
  #writeAll(buf: Buffer, offset: number, length: number, position: number, done: (err?: Error) => void): void {
    write(this.#fd as number, buf, offset, length, position, (err, written) => {
      if (err) done(err);
      else if (written < length) this.#writeAll(buf, offset + written, length - written, position + written, done);
      else done();
    });
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#flushStage((failed) => {
      if (failed) callback(failed);
      else fsync(this.#fd as number, (err) => callback(err));
    });
  }

  /** Calls back once no write or background flush is in flight. */
  #settled(then: () => void): void {
    if (this.#busy.size === 0 && !this.#syncing) then();
    else this.#idle.push(then);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#dropQueue();
    this.#settled(() => {
      if (this.#fd === undefined) {
        callback(err);
        return;
      }
      const fd = this.#fd;
      this.#fd = undefined;
      close(fd, (closeErr) => callback(err ?? closeErr));
    });
  }

  /** The SHA-256 of everything written; only once the stream has ended. */
  digest(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }
}
