// Files inside the simulated pods: real or synthetic bytes, read in slices and hashed.
import { createHash } from 'node:crypto';

/** A file in a fake pod: real bytes, or `size` bytes of a repeated block (for big synthetic dumps). */
export type FakeFile = Buffer | { size: number; block: Buffer; sha256?: string };

export function fileSize(file: FakeFile): number {
  return Buffer.isBuffer(file) ? file.length : file.size;
}

/** Yields the bytes [start, end) of a file in pieces of at most `piece` bytes. */
export function* fileSlices(
  file: FakeFile,
  start: number,
  end: number,
  piece = 32 * 1024,
): Generator<Buffer> {
  for (let at = start; at < end; at += piece) {
    const to = Math.min(end, at + piece);
    if (Buffer.isBuffer(file)) {
      yield file.subarray(at, to);
    } else {
      const offset = at % file.block.length;
      if (offset + (to - at) <= file.block.length) {
        yield file.block.subarray(offset, offset + (to - at));
        continue;
      }
      const out = Buffer.allocUnsafe(to - at);
      for (let i = 0; i < out.length;) {
        const offset = (at + i) % file.block.length;
        const n = Math.min(out.length - i, file.block.length - offset);
        file.block.copy(out, i, offset, offset + n);
        i += n;
      }
      yield out;
    }
  }
}

export function fileSha256(file: FakeFile): string {
  if (!Buffer.isBuffer(file) && file.sha256) return file.sha256;
  const hash = createHash('sha256');
  for (const slice of fileSlices(file, 0, fileSize(file), 1024 * 1024)) hash.update(slice);
  const digest = hash.digest('hex');
  if (!Buffer.isBuffer(file)) file.sha256 = digest;
  return digest;
}
