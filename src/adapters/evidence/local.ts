// Evidence on a local (or mounted) directory: written as .incomplete, renamed when verified, custody JSON beside it.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pipeline } from 'node:stream/promises';
import {
  HashingStream,
  endStream,
  safeKey,
  type EvidenceStore,
  type EvidenceWriter,
  type StoredArtifact,
  type Verify,
} from './store.ts';

export class LocalEvidenceStore implements EvidenceStore {
  readonly kind = 'local';
  readonly location: string;

  constructor(dir: string) {
    this.location = resolve(dir);
  }

  async create(key: string): Promise<EvidenceWriter> {
    const path = join(this.location, safeKey(key));
    await mkdir(dirname(path), { recursive: true });
    const incomplete = `${path}.incomplete`;
    const hashing = new HashingStream();
    // flush: fsync before close, so "committed" means on disk.
    const file = createWriteStream(incomplete, { flags: 'wx', flush: true, highWaterMark: 1024 * 1024 });
    const written = pipeline(hashing, file);
    written.catch(() => {}); // observed through commit/keepPartial
    let finished = false;

    async function finish(
      custody: Record<string, unknown>,
      verify: Verify | undefined,
      forcePartial: boolean,
    ): Promise<StoredArtifact> {
      await endStream(hashing);
      await written;
      finished = true;
      const got = { size: hashing.bytes, sha256: hashing.digest() };
      const problem = verify?.(got);
      const partial = forcePartial || problem !== undefined;
      // A partial artifact never takes the name of a complete one.
      const target = partial ? `${path}.partial` : path;
      await rename(incomplete, target);
      const artifact: StoredArtifact = {
        uri: pathToFileURL(target).href,
        ...got,
        partial,
        ...(problem ? { problem } : {}),
      };
      await writeFile(
        `${target}.custody.json`,
        `${JSON.stringify({ ...custody, ...artifact, status: partial ? 'partial' : 'complete' }, null, 2)}\n`,
        { flush: true },
      );
      return artifact;
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
        hashing.destroy();
        await written.catch(() => {});
        await rm(incomplete, { force: true });
      },
    };
    return writer;
  }
}
