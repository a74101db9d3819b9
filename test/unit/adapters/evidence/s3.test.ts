// Evidence in S3 via nock: a multipart upload (CreateMultipartUpload, UploadPart x2, CompleteMultipartUpload) + custody.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import nock from 'nock';
import { S3EvidenceStore } from '../../../../src/adapters/evidence/s3.ts';
import { useNock } from '../../../support/nock.ts';

const S3 = 'https://s3.test';
const BUCKET = 'acme-evidence';
const KEY = 'incidents/INC-1/payments/payments-a/20261126T094107Z-heap-dump.hprof.gz';
const UPLOAD_ID = 'VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA';

function client(): S3Client {
  return new S3Client({
    region: 'eu-west-1',
    endpoint: S3,
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    // nock cannot answer "Expect: 100-continue", which the SDK sends for parts over 2 MB.
    expectContinueHeader: false,
  });
}

async function write(stream: NodeJS.WritableStream, data: Buffer): Promise<void> {
  for (let at = 0; at < data.length; at += 256 * 1024) {
    const piece = data.subarray(at, at + 256 * 1024);
    if (!stream.write(piece)) await new Promise((r) => stream.once('drain', r));
  }
}

describe('S3 evidence store', () => {
  useNock();

  it('streams an artifact as a multipart upload and writes the custody record with its SHA-256', async () => {
    const content = randomBytes(6 * 1024 * 1024 + 4321);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const parts = new Map<number, Buffer>();
    let completeXml = '';
    let custody: Record<string, unknown> = {};
    const s3 = nock(S3);
    s3.post(`/${BUCKET}/${KEY}`)
      .query({ uploads: '' })
      .reply(
        200,
        `<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>${BUCKET}</Bucket><Key>${KEY}</Key><UploadId>${UPLOAD_ID}</UploadId></InitiateMultipartUploadResult>`,
        { 'content-type': 'application/xml' },
      );
    for (const n of [1, 2]) {
      s3.put(`/${BUCKET}/${KEY}`)
        .query((q) => q.partNumber === String(n) && q.uploadId === UPLOAD_ID && q['x-id'] === 'UploadPart')
        .reply(async (request: Request) => {
          parts.set(n, Buffer.from(await request.arrayBuffer()));
          return [200, '', { ETag: `"etag-part-${n}"` }];
        });
    }
    s3.post(`/${BUCKET}/${KEY}`, (body: unknown) => {
      if (String(body).includes('CompleteMultipartUpload')) completeXml = String(body);
      return true;
    })
      .query((q) => q.uploadId === UPLOAD_ID)
      .reply(() => {
        return [
          200,
          `<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>${S3}/${BUCKET}/${KEY}</Location><Bucket>${BUCKET}</Bucket><Key>${KEY}</Key><ETag>"3858f62230ac3c915f300c664312c11f-2"</ETag></CompleteMultipartUploadResult>`,
          { 'content-type': 'application/xml' },
        ];
      });
    s3.put(`/${BUCKET}/${KEY}.custody.json`)
      .query((q) => q['x-id'] === 'PutObject')
      .reply(async (request: Request) => {
      custody = JSON.parse(await request.text()) as Record<string, unknown>;
      return [200, '', { ETag: '"custody"' }];
    });

    const store = new S3EvidenceStore(client(), { bucket: BUCKET, prefix: 'incidents/' });
    const writer = await store.create('INC-1/payments/payments-a/20261126T094107Z-heap-dump.hprof.gz');
    await write(writer.stream, content);
    const stored = await writer.commit({ pod: 'payments-a' }, (got) => (got.sha256 === sha256 ? undefined : 'mismatch'));

    assert.deepEqual(stored, { uri: `s3://${BUCKET}/${KEY}`, size: content.length, sha256, partial: false });
    assert.equal(parts.get(1)?.length, 5 * 1024 * 1024, 'parts are the minimum 5 MiB: memory stays bounded');
    assert.deepEqual(Buffer.concat([parts.get(1) ?? Buffer.alloc(0), parts.get(2) ?? Buffer.alloc(0)]), content);
    assert.match(completeXml, /<Part><ETag>&quot;etag-part-1&quot;<\/ETag><PartNumber>1<\/PartNumber><\/Part>/);
    assert.match(completeXml, /<Part><ETag>&quot;etag-part-2&quot;<\/ETag><PartNumber>2<\/PartNumber><\/Part>/);
    assert.equal(custody.sha256, sha256);
    assert.equal(custody.status, 'complete');
    assert.equal(custody.uri, `s3://${BUCKET}/${KEY}`);
  });

  it('fails the writer within a part or two when S3 refuses the upload, so the producer stops', async () => {
    nock(S3)
      .post(`/${BUCKET}/${KEY}`)
      .query({ uploads: '' })
      .reply(
        403,
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2F9</RequestId><HostId>host</HostId></Error>`,
        { 'content-type': 'application/xml' },
      );
    const store = new S3EvidenceStore(client(), { bucket: BUCKET, prefix: 'incidents' });
    const writer = await store.create('INC-1/payments/payments-a/20261126T094107Z-heap-dump.hprof.gz');
    let failure: Error | undefined;
    writer.stream.once('error', (err) => (failure = err));
    // lib-storage reports a failed part once its other uploader has read on, so keep producing like a pull would.
    let written = 0;
    const piece = randomBytes(256 * 1024);
    while (!failure && written < 64 * 1024 * 1024) {
      if (!writer.stream.write(piece)) {
        await new Promise((r) => {
          writer.stream.once('drain', r);
          writer.stream.once('close', r);
        });
      }
      written += piece.length;
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(failure, 'the writer failed');
    assert.match(failure.message, /upload failed \(HTTP 403\): Access Denied/);
    assert.ok(written <= 16 * 1024 * 1024, `stopped within a few parts, wrote ${written}`);
  });

  it('keeps a small record with PutObject and reads it back with GetObject; a missing key is no record', async () => {
    const store = new S3EvidenceStore(client(), { bucket: BUCKET, prefix: 'incidents' });
    let stored = '';
    nock(S3)
      .put(`/${BUCKET}/incidents/INC-1/timeline-anchor.json`, (body: unknown) => {
        stored = typeof body === 'string' ? body : JSON.stringify(body);
        return true;
      })
      .query(true)
      .reply(200, '', { ETag: '"d41d8cd98f00b204e9800998ecf8427e"' });
    await store.putRecord('INC-1/timeline-anchor.json', '{"count":4,"head":"ab"}\n');
    assert.equal(stored.trim(), '{"count":4,"head":"ab"}');

    nock(S3)
      .get(`/${BUCKET}/incidents/INC-1/timeline-anchor.json`)
      .query(true)
      .reply(200, '{"count":4,"head":"ab"}\n', { 'content-type': 'application/json' });
    assert.equal(await store.getRecord('INC-1/timeline-anchor.json'), '{"count":4,"head":"ab"}\n');

    nock(S3)
      .get(`/${BUCKET}/incidents/INC-2/timeline-anchor.json`)
      .query(true)
      .reply(
        404,
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>incidents/INC-2/timeline-anchor.json</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>',
        { 'content-type': 'application/xml' },
      );
    assert.equal(await store.getRecord('INC-2/timeline-anchor.json'), undefined);

    nock(S3)
      .get(`/${BUCKET}/incidents/INC-3/timeline-anchor.json`)
      .query(true)
      .reply(
        403,
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>4442587FB7D0A2FA</RequestId></Error>',
        { 'content-type': 'application/xml' },
      );
    await assert.rejects(store.getRecord('INC-3/timeline-anchor.json'), /GetObject failed \(HTTP 403\)/);
  });
});
