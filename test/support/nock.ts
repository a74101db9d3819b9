// nock discipline for a test file: every scope must be used, nothing is left behind for the next test.
import assert from 'node:assert/strict';
import nock from 'nock';

export function useNock(): void {
  afterEach(function () {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    if (this.currentTest?.state !== 'failed') assert.deepEqual(pending, [], 'every mocked request was made');
  });
}
