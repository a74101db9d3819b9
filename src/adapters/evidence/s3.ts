// Evidence in S3: each artifact streamed as a multipart upload (bounded memory), custody JSON as a sibling object.
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { PassThrough } from 'node:stream';
import { ExternalServiceError } from '../../errors.ts';
import { HashingStream, evidenceWriter, safeKey, type EvidenceStore, type EvidenceWriter, type StoredArtifact } from './store.ts';

export interface S3EvidenceOptions {
  bucket: string;
  prefix?: string;
  /** Part size in bytes (S3 minimum 5 MiB). Memory held is about (queueSize + 1) x partSize. */
  partSize?: number;
  queueSize?: number;
}

function s3Error(operation: string, err: unknown): ExternalServiceError {
  const meta = (err as { $metadata?: { httpStatusCode?: number }; name?: string }) ?? {};
  const status = meta.$metadata?.httpStatusCode;
  return new ExternalServiceError(
    's3',
    `${operation} failed${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message ?? String(err)}`,
    { ...(status ? { status } : {}), retryable: status === undefined || status === 429 || status >= 500, cause: err },
  );
}

export class S3EvidenceStore implements EvidenceStore {
  readonly kind = 's3';
  readonly location: string;
  #client: S3Client;
  #bucket: string;
  #prefix: string;
  #partSize: number;
  #queueSize: number;

  constructor(client: S3Client, opts: S3EvidenceOptions) {
    this.#client = client;
    this.#bucket = opts.bucket;
    this.#prefix = opts.prefix ? `${opts.prefix.replace(/\/+$/, '')}/` : '';
    this.#partSize = Math.max(opts.partSize ?? 5 * 1024 * 1024, 5 * 1024 * 1024);
    this.#queueSize = opts.queueSize ?? 2;
    this.location = `s3://${this.#bucket}/${this.#prefix}`;
  }

  async putRecord(key: string, text: string): Promise<void> {
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: `${this.#prefix}${safeKey(key)}`,
          Body: text,
          ContentType: 'application/json',
        }),
      );
    } catch (err) {
      throw s3Error('PutObject', err);
    }
  }

  async getRecord(key: string): Promise<string | undefined> {
    try {
      const got = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: `${this.#prefix}${safeKey(key)}` }),
      );
      return (await got.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if ((err as Error).name === 'NoSuchKey' || status === 404) return undefined;
      throw s3Error('GetObject', err);
    }
  }

  async create(key: string, opts: { contentType?: string } = {}): Promise<EvidenceWriter> {
    const objectKey = `${this.#prefix}${safeKey(key)}`;
    const client = this.#client;
    const bucket = this.#bucket;
    const hashing = new HashingStream();
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    hashing.pipe(body);
    const upload = new Upload({
      client,
      params: {
        Bucket: bucket,
        Key: objectKey,
        Body: body,
        ContentType: opts.contentType ?? 'application/octet-stream',
      },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      leavePartsOnError: false,
    });
    const done = upload.done();
    // An upload that fails stops reading the body; fail the writer so the producer stops too.
    done.catch((err: unknown) => {
      if (!hashing.destroyed) hashing.destroy(s3Error('upload', err));
    });
    const uri = `s3://${bucket}/${objectKey}`;
    return evidenceWriter(hashing, {
      async settle() {
        try {
          await done;
        } catch (err) {
          throw s3Error('upload', err);
        }
      },
      async place(found, custody) {
        const artifact: StoredArtifact = { uri, ...found };
        // The object key is fixed when the upload starts; a partial one is marked by its custody record's name.
        try {
          await client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: `${objectKey}${found.partial ? '.partial' : ''}.custody.json`,
              Body: `${JSON.stringify({ ...custody, ...artifact, status: found.partial ? 'partial' : 'complete' }, null, 2)}\n`,
              ContentType: 'application/json',
            }),
          );
        } catch (err) {
          throw s3Error('PutObject (custody record)', err);
        }
        return artifact;
      },
      async drop() {
        hashing.unpipe(body);
        hashing.destroy();
        try {
          await upload.abort();
        } catch {
          // nothing was created yet, or the abort itself failed: lifecycle rules clean up stray parts
        }
        await done.catch(() => {});
      },
    });
  }
}
