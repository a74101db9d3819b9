// Evidence on a local (or mounted) directory: written as .incomplete, renamed when verified, custody JSON beside it.
import { open } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HashingFileSink } from './file-sink.ts';
import {
  endStream,
  evidenceWriter,
  safeKey,
  type EvidenceStore,
  type EvidenceWriter,
  type StoredArtifact,
} from './store.ts';

const openFile = promisify(open);

/** Resolves once the file is closed (after it finished, or was destroyed). */
function closed(file: HashingFileSink): Promise<void> {
  return new Promise((resolve) => (file.closed ? resolve() : file.once('close', () => resolve())));
}

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
    // Hashed and written in one stream, fsynced before it finishes, so "committed" means on disk.
    // 'wx': an artifact being written is never overwritten by another.
    // (A plain fd, not a FileHandle: the sink closes it, and a FileHandle would close it again when collected.)
    const file = new HashingFileSink(await openFile(incomplete, 'wx'));
    file.on('error', () => {}); // observed through commit/keepPartial
    return evidenceWriter(file, {
      async settle() {
        await endStream(file);
        await closed(file);
      },
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
        file.destroy();
        await closed(file);
        await rm(incomplete, { force: true });
      },
    });
  }
}
