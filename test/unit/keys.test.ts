// The keyed hashes must not change with how the key is held: chains and cards written before still verify.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { deriveKeys } from '../../src/keys.ts';

describe('deriveKeys', () => {
  it('computes HMAC-SHA-256 under the derived key, per purpose', () => {
    const keys = deriveKeys({ CLOUD_SAFETY_SECRET: 'a-long-enough-secret' });
    const raw = createHmac('sha256', 'a-long-enough-secret').update('cloud-safety/keys/v1').digest();
    const expected = createHmac('sha256', raw).update('timeline\0{"a":1}').digest('hex');
    assert.equal(keys.source, 'CLOUD_SAFETY_SECRET');
    assert.equal(keys.mac('timeline', '{"a":1}'), expected);
    assert.notEqual(keys.mac('approve', '{"a":1}'), expected);
  });
});
