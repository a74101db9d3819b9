// A small streaming CSV writer for ledger audit evidence: rows go to disk as they are found, hashed on the way.
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Evidence } from '../../src/config.ts';

export interface CsvArtifact {
  /** Absolute path of the file. */
  path: string;
  /** file://… URI, as the evidence store names artifacts. */
  uri: string;
  rows: number;
  size: number;
  sha256: string;
}

/** One CSV field: quoted when it holds a comma, quote, newline or leading/trailing space; formulas defused. */
export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  // A cell starting with = + - @ runs as a formula when a spreadsheet opens the file.
  if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export class CsvWriter {
  readonly path: string;
  #stream: WriteStream;
  #hash = createHash('sha256');
  #size = 0;
  #rows = 0;
  #failed: Error | null = null;

  constructor(path: string, header: string[]) {
    this.path = path;
    this.#stream = createWriteStream(path, { flags: 'wx' });
    this.#stream.on('error', (err) => (this.#failed = err));
    this.#writeLine(header.map(csvField).join(','));
  }

  #writeLine(line: string): boolean {
    const chunk = `${line}\r\n`;
    this.#hash.update(chunk);
    this.#size += Buffer.byteLength(chunk);
    return this.#stream.write(chunk);
  }

  /** Writes a row; waits when the disk is slower than the audit so memory stays bounded. */
  async write(fields: (string | number | boolean | null | undefined)[]): Promise<void> {
    if (this.#failed) throw this.#failed;
    this.#rows += 1;
    if (!this.#writeLine(fields.map(csvField).join(','))) {
      await new Promise<void>((done) => this.#stream.once('drain', done));
    }
  }

  async close(): Promise<CsvArtifact> {
    await new Promise<void>((done, fail) => {
      this.#stream.end((err?: Error | null) => (err ? fail(err) : done()));
    });
    if (this.#failed) throw this.#failed;
    return {
      path: this.path,
      uri: `file://${this.path}`,
      rows: this.#rows,
      size: this.#size,
      sha256: this.#hash.digest('hex'),
    };
  }
}

/** The local directory for an incident's evidence; an S3 evidence store falls back to ./evidence for now. */
export function evidenceDir(evidence: Evidence, incident: string): string {
  const root = 'dir' in evidence ? evidence.dir : './evidence';
  const dir = resolve(join(root, incident.replace(/[^A-Za-z0-9_.-]/g, '_')));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** evidence/<incident>/<name>-<UTC time with ms>.csv, never overwriting an earlier file. */
export function openCsvEvidence(
  evidence: Evidence,
  incident: string,
  name: string,
  at: Date,
  header: string[],
): CsvWriter {
  const stamp = at.toISOString().replace(/[:]/g, '');
  const dir = evidenceDir(evidence, incident);
  let path = join(dir, `${name}-${stamp}.csv`);
  for (let n = 2; existsSync(path); n++) path = join(dir, `${name}-${stamp}-${n}.csv`);
  return new CsvWriter(path, header);
}
