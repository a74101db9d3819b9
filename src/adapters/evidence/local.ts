// Evidence on a local (or mounted) directory: written as .incomplete, renamed when verified, custody JSON beside it.
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pipeline } from 'node:stream/promises';
import {
  HashingStream,
  evidenceWriter,
  safeKey,
  type EvidenceStore,
  type EvidenceWriter,
  type StoredArtifact,
} from './store.ts';

export class LocalEvidenceStore implements EvidenceStore {
  readonly kind = 'local';
  readonly location: string;

  constructor(dir: string) {
    this.location = resolve(dir);
  }

  async putRecord(key: string, text: string): Promise<void> {
    const path = join(this.location, safeKey(key));
    await mkdir(dirname(path), { recursive: true });
    // Written beside, flushed, then renamed over: a reader sees the old record or the new one, never half of one.
    const next = `${path}.next`;
    await writeFile(next, text, { flush: true });
    await rename(next, path);
  }

  async getRecord(key: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.location, safeKey(key)), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
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
    return evidenceWriter(hashing, {
      settle: () => written,
      async place(found, custody) {
        // A partial artifact never takes the name of a complete one.
        const target = found.partial ? `${path}.partial` : path;
        await rename(incomplete, target);
        const artifact: StoredArtifact = { uri: pathToFileURL(target).href, ...found };
        await writeFile(
          `${target}.custody.json`,
          `${JSON.stringify({ ...custody, ...artifact, status: found.partial ? 'partial' : 'complete' }, null, 2)}\n`,
          { flush: true },
        );
        return artifact;
      },
      async drop() {
        hashing.destroy();
        await written.catch(() => {});
        await rm(incomplete, { force: true });
      },
    });
  }
}
