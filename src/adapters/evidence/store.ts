// The evidence store port: artifacts are streamed in, hashed on the way, and kept with a chain-of-custody record.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback, type Writable } from 'node:stream';

export interface StoredArtifact {
  /** file:///… or s3://bucket/key */
  uri: string;
  size: number;
  sha256: string;
  /** True when the artifact is incomplete or failed verification (kept: part of the evidence beats none). */
  partial: boolean;
  /** Why it is partial, when verification failed. */
  problem?: string;
}

/** Checks the stored size and SHA-256 against what the source said; returns the problem, or undefined. */
export type Verify = (got: { size: number; sha256: string }) => string | undefined;

export interface EvidenceWriter {
  /** Write the artifact's bytes here; it applies backpressure like any Writable. */
  readonly stream: Writable;
  /** Bytes written so far. */
  readonly bytes: number;
  /**
   * Ends the stream, waits until the bytes are durable, verifies them, and writes the custody record next to
   * them. An artifact that fails `verify` is kept marked partial, with the problem.
   */
  commit(custody: Record<string, unknown>, verify?: Verify): Promise<StoredArtifact>;
  /** Keeps what arrived, clearly marked partial; undefined when nothing arrived or the store failed too. */
  keepPartial(custody: Record<string, unknown>): Promise<StoredArtifact | undefined>;
  /** Drops whatever arrived. */
  discard(): Promise<void>;
}

export interface EvidenceStore {
  readonly kind: 'local' | 's3';
  /** A directory or s3://bucket/prefix, for messages. */
  readonly location: string;
  /** `key` is a relative path like INC-1/payments/pod-a/20261126T094107Z-heap.hprof.gz */
  create(key: string, opts?: { contentType?: string }): Promise<EvidenceWriter>;
  /** A small record kept beside the evidence (the timeline's anchor), replaced whole on every write. */
  putRecord(key: string, text: string): Promise<void>;
  /** The record at `key`; undefined when there is none. */
  getRecord(key: string): Promise<string | undefined>;
}

/** Counts and hashes what passes through, without holding it. */
export class HashingStream extends Transform {
  #hash: Hash = createHash('sha256');
  #digest: string | undefined;
  bytes = 0;

  constructor(highWaterMark = 1024 * 1024) {
    super({ highWaterMark, writableHighWaterMark: highWaterMark, readableHighWaterMark: highWaterMark });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  /** The SHA-256 of everything written; only once the stream has ended. */
  digest(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }
}

/** Keys are relative paths of safe segments; anything else is replaced, so no key escapes the store. */
export function safeKey(key: string): string {
  const parts = key
    .split('/')
    .map((p) => p.replace(/[^A-Za-z0-9._-]/g, '_'))
    .filter((p) => p.length > 0 && p !== '.' && p !== '..');
  if (parts.length === 0) throw new Error(`evidence key "${key}" has no usable segment`);
  return parts.join('/');
}

/** Ends a writable and waits for it to finish (or fail). */
export function endStream(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.writableFinished) {
      resolve();
      return;
    }
    const onError = (err: Error) => {
      stream.off('finish', onFinish);
      reject(err);
    };
    const onFinish = () => {
      stream.off('error', onError);
      resolve();
    };
    stream.once('error', onError);
    stream.once('finish', onFinish);
    stream.end();
  });
}

/** What differs between stores: making the bytes durable, naming and recording the artifact, dropping it. */
export interface WriterBackend {
  /** Resolves once everything the stream carried is durable (the stream has ended). */
  settle(): Promise<void>;
  /** Gives the artifact its final name (partial ones never take a complete one's) and writes its custody record. */
  place(found: Omit<StoredArtifact, 'uri'>, custody: Record<string, unknown>): Promise<StoredArtifact>;
  /** Drops whatever arrived. */
  drop(): Promise<void>;
}

/** A stream that counts and hashes what is written to it (HashingStream, HashingFileSink). */
export type HashingSink = Writable & { readonly bytes: number; digest(): string };

/** The EvidenceWriter around a hashing stream: the same commit, verify and keep-partial rules for every store. */
export function evidenceWriter(hashing: HashingSink, backend: WriterBackend): EvidenceWriter {
  let finished = false;

  async function finish(custody: Record<string, unknown>, verify: Verify | undefined, forcePartial: boolean) {
    await endStream(hashing);
    await backend.settle();
    finished = true;
    const got = { size: hashing.bytes, sha256: hashing.digest() };
    const problem = verify?.(got);
    const partial = forcePartial || problem !== undefined;
    return backend.place({ ...got, partial, ...(problem ? { problem } : {}) }, custody);
  }

  const writer: EvidenceWriter = {
    stream: hashing,
    get bytes() {
      return hashing.bytes;
    },
    commit: (custody, verify) => finish(custody, verify, false),
    async keepPartial(custody) {
      if (finished) return undefined;
      if (hashing.destroyed || hashing.bytes === 0) {
        await writer.discard();
        return undefined;
      }
      try {
        return await finish(custody, undefined, true);
      } catch {
        return undefined;
      }
    },
    async discard() {
      finished = true;
      await backend.drop();
    },
  };
  return writer;
}
