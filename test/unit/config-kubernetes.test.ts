// The kubernetes section of cloud-safety.yml: defaults, and errors that name the path.
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config.ts';

const access = { responders: ['*'], approvers: ['*'] };

describe('config: services.<name>.kubernetes', () => {
  it('fills defaults for a minimal section', () => {
    const config = parseConfig(
      {
        access,
        services: {
          payments: {
            kubernetes: { namespace: 'payments', selector: 'app=payments', container: 'app', runtime: 'jvm' },
          },
        },
      },
      'cloud-safety.yml',
    );
    const k = config.services.payments?.kubernetes;
    assert.equal(k?.pid, 1);
    assert.equal(k?.scratchDir, '/tmp');
    assert.equal(k?.maxQuarantine, 3);
    assert.equal(k?.maxQuarantineFraction, 0.5);
    assert.equal(k?.quarantineTtl, 4 * 3_600_000);
    assert.equal(k?.release, 'return');
    assert.equal(k?.onExpiry, 'delete');
    assert.deepEqual(k?.capture, {
      timeout: 600_000,
      chunkBytes: 64 * 1024 * 1024,
      retries: 3,
      logBytes: 10 * 1024 * 1024,
    });
  });

  it('names every wrong path', () => {
    assert.throws(
      () =>
        parseConfig(
          {
            access,
            services: {
              payments: {
                kubernetes: {
                  namespace: 'Payments',
                  selector: 'app=payments',
                  container: 'app',
                  runtime: 'ruby',
                  scratchDir: 'tmp',
                  prometheus: { url: 'not a url' },
                  profiles: {
                    jvm: [
                      { name: 'heap', kind: 'heap-dump', command: 'jcmd 1 GC.heap_dump', extension: 'hprof' },
                    ],
                  },
                },
              },
            },
          },
          'cloud-safety.yml',
        ),
      (err: Error) =>
        /services\.payments\.kubernetes\.namespace: a Kubernetes name/.test(err.message) &&
        /services\.payments\.kubernetes\.runtime/.test(err.message) &&
        /services\.payments\.kubernetes\.scratchDir: an absolute path/.test(err.message) &&
        /services\.payments\.kubernetes\.prometheus\.url/.test(err.message) &&
        /services\.payments\.kubernetes\.profiles\.jvm\.0\.command: the command must write the artifact to \{file\}/.test(
          err.message,
        ),
    );
  });
});
