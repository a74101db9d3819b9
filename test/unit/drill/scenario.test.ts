// Drill scenarios as data: every shipped YAML loads, and a bad one is refused with a message that names each field.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, parseScenario, scenarioNames, ScenarioError } from '../../../src/drill/scenario.ts';

describe('drill scenarios', () => {
  it('ships the seed story and at least two more, each valid', () => {
    const names = scenarioNames();
    assert.ok(names.includes('seed'));
    assert.ok(names.length >= 3, names.join(', '));
    for (const name of names) {
      const s = loadScenario(name);
      assert.equal(s.name, name);
      assert.ok(s.pods.list.length > 0);
    }
  });

  it('the seed is the story the console drill always told: legacy 20 / cloud 80, TTL 10 s, three pods, 60 s propagation', () => {
    const seed = loadScenario('seed');
    assert.deepEqual(
      { legacy: seed.traffic.legacy, cloud: seed.traffic.cloud, ttl: seed.traffic.ttl },
      { legacy: 20, cloud: 80, ttl: 10 },
    );
    assert.equal(seed.traffic.propagation, 60_000);
    assert.deepEqual(
      seed.pods.list.map((p) => p.name),
      ['x2k4q', 'm8n3v', 'p5r7t'],
    );
    assert.equal(seed.pods.list[0]?.lastOomAgo, 240_000);
    assert.deepEqual(seed.network, { enforcesNetworkPolicy: true, policyDelay: 2_000 });
    assert.equal(loadScenario('network-unenforced').network.enforcesNetworkPolicy, false);
  });

  it('names every bad field, says how to write it, and points at a working file', () => {
    const bad = () =>
      parseScenario(
        {
          title: 'x',
          service: 'Pay',
          traffic: { legacy: 0, cloud: 0, ttl: 10, propagation: '5x' },
          pods: {
            limitMiB: 100,
            baselineMiB: 200,
            leakMiBPerMinute: 1,
            list: [{ name: 'abcde', memoryMiB: 150 }],
          },
          errors: { base: 0.001, atLimit: 2 },
          ledger: { rows: 100, mismatched: 40 },
          faults: [{ at: '1m', fault: 'boom' }],
          network: { enforcesNetworkPolicy: 'no', policyDelay: '2x' },
        },
        'bad',
      );
    assert.throws(bad, ScenarioError);
    let message = '';
    try {
      bad();
    } catch (err) {
      message = (err as Error).message;
    }
    assert.match(message, /^scenario bad is not valid:/);
    assert.match(message, /description: missing; add it/);
    assert.match(message, /service: a service name is lowercase letters, digits and -/);
    assert.match(message, /traffic.propagation: "5x" is not a duration; write e.g. 90s, 5m or 1h/);
    assert.match(message, /errors.atLimit: /);
    assert.match(message, /faults.0.fault: "boom" is not a fault; use one of route53-throttling, /);
    assert.match(message, /network.enforcesNetworkPolicy: .*expected boolean/);
    assert.match(message, /network.policyDelay: "2x" is not a duration/);
    assert.match(message, /See src\/drill\/scenarios\/seed.yaml/);
  });

  it('checks what the schema alone cannot: both weights 0, a baseline above the limit, too much divergence', () => {
    const base = loadScenario('seed');
    const doc = {
      ...structuredClone({
        title: base.title,
        description: base.description,
        service: 'payments',
        errors: { base: 0.001, atLimit: 0.05 },
      }),
      traffic: { legacy: 0, cloud: 0, ttl: 10 },
      pods: {
        limitMiB: 100,
        baselineMiB: 200,
        leakMiBPerMinute: 1,
        list: [{ name: 'abcde', memoryMiB: 150 }],
      },
      ledger: { rows: 100, mismatched: 40 },
    };
    assert.throws(
      () => parseScenario(doc, 'x'),
      (err: Error) =>
        /traffic: legacy and cloud weights are both 0/.test(err.message) &&
        /pods.baselineMiB: must be below limitMiB \(100\)/.test(err.message) &&
        /pods.list.0.memoryMiB: must be at most limitMiB/.test(err.message) &&
        /ledger: the divergence touches 40 rows, more than a quarter of 100/.test(err.message),
    );
  });

  it('an unknown name lists the scenarios there are; broken YAML names its line', () => {
    assert.throws(() => loadScenario('nope'), /There is no drill scenario "nope"; the scenarios are: .*seed/);
    const dir = mkdtempSync(join(tmpdir(), 'cs-scenario-'));
    writeFileSync(join(dir, 'broken.yaml'), 'title: x\n  service: [\n');
    assert.throws(() => loadScenario('broken', dir), /broken.yaml is not valid YAML at line \d+/);
  });
});

describe('CLOUD_SAFETY_DRILL_SCENARIO (the console drill world)', () => {
  it('plays the seed by default, the named scenario when set, and refuses an unknown one with the list', async () => {
    const { drillScenario } = await import('../../../src/startup.ts');
    assert.equal(drillScenario({}).name, 'seed');
    assert.equal(drillScenario({ CLOUD_SAFETY_DRILL_SCENARIO: 'payments-leak' }).name, 'payments-leak');
    assert.throws(
      () => drillScenario({ CLOUD_SAFETY_DRILL_SCENARIO: 'nope' }),
      /CLOUD_SAFETY_DRILL_SCENARIO=nope: There is no drill scenario "nope"; the scenarios are: ledger-half-shift, network-unenforced, payments-leak, seed/,
    );
  });
});
