// Key layout: one server keeps the names it always had; a Cluster puts keys built beside another in its slot.
import assert from 'node:assert/strict';
import { hashTag, physicalBeside, physicalKey } from '../../../src/store/slots.ts';
import { keyBeside } from '../../../src/store/store.ts';
import { TimelineLog } from '../../../src/timeline-log.ts';

describe('store key layout', () => {
  it('keeps the timeline head at the name it had before on one server', () => {
    assert.equal(
      physicalKey('cloud-safety:', TimelineLog.headKey('INC-7'), false),
      'cloud-safety:timeline:INC-7:head',
    );
    assert.equal(
      physicalKey('cloud-safety:', TimelineLog.streamKey('INC-7'), false),
      'cloud-safety:timeline:INC-7',
    );
  });

  it('hashes the head with its stream on a Cluster', () => {
    const stream = physicalKey('cloud-safety:', TimelineLog.streamKey('INC-7'), true);
    const head = physicalKey('cloud-safety:', TimelineLog.headKey('INC-7'), true);
    assert.equal(head, '{cloud-safety:timeline:INC-7}:head');
    assert.equal(hashTag(head), hashTag(stream));
  });

  it('puts a lease fence beside its lease, whatever tag the lease has', () => {
    assert.equal(hashTag(physicalBeside('p:lease:a', ':fence')), 'p:lease:a');
    assert.equal(hashTag(physicalBeside('p:{x}:lease', ':fence')), 'x');
  });

  it('follows Redis: an empty {} is no tag', () => {
    assert.equal(hashTag('a{}b'), 'a{}b');
    assert.equal(hashTag('a{b}c{d}'), 'b');
  });

  it('refuses to build a key beside one that already names a slot', () => {
    assert.throws(() => keyBeside('a{b}', ':head'), /already names a slot; build keys without braces/);
  });
});
