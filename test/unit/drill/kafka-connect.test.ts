// The drill's Kafka Connect speaks the Connect REST API as the production Debezium check reads it: a failed task
// with its trace, KIP-745 restarts (a bare restart leaves a failed task failed), RESTARTING before RUNNING.
import assert from 'node:assert/strict';
import type { LedgerSideDb } from '../../../src/adapters/ledger/side.ts';
import { checkCdc } from '../../../src/adapters/ledger/cdc.ts';
import { startKafkaConnect, type KafkaConnectServer } from '../../../src/drill/kafka-connect.ts';
import { createMetrics } from '../../../src/metrics.ts';

describe('drill Kafka Connect (CDC) against the production Debezium check', () => {
  let connect: KafkaConnectServer;
  let clock = 1_000_000;

  afterEach(async () => {
    await connect.stop();
  });

  // The Debezium check reads only Kafka Connect; the ledger databases are not asked.
  const sides = {} as Record<'legacy' | 'cloud', LedgerSideDb>;
  const check = () =>
    checkCdc(
      { kind: 'debezium', url: connect.url, connector: 'ledger_sync' },
      { sides, metrics: createMetrics({ defaults: false }) },
    );

  it('a failed task is unhealthy with its trace; only a restart that includes tasks brings it back', async () => {
    connect = await startKafkaConnect({
      connector: 'ledger_sync',
      state: 'FAILED',
      restartMs: 5000,
      now: () => clock,
    });
    const failed = await check();
    assert.equal(failed.healthy, false);
    assert.equal(
      failed.detail,
      'task 0 is FAILED (org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer. This connector will be stopped.)',
    );

    // POST /connectors/{name}/restart with no parameters restarts only the connector instance: 204, task still failed.
    const bare = await fetch(`${connect.url}/connectors/ledger_sync/restart`, { method: 'POST' });
    assert.equal(bare.status, 204);
    assert.equal((await check()).healthy, false);

    const full = await fetch(
      `${connect.url}/connectors/ledger_sync/restart?includeTasks=true&onlyFailed=true`,
      {
        method: 'POST',
      },
    );
    assert.equal(full.status, 202);
    const body = (await full.json()) as { tasks: { id: number; state: string }[] };
    assert.deepEqual(
      body.tasks.map((t) => t.state),
      ['RESTARTING'],
    );
    assert.equal((await check()).detail, 'task 0 is RESTARTING');

    clock += 5000;
    assert.deepEqual(await check(), {
      kind: 'debezium',
      healthy: true,
      detail: 'connector ledger_sync and its 1 task(s) RUNNING',
    });
  });

  it('answers an unknown connector with Connect 404 body, which the check reports', async () => {
    connect = await startKafkaConnect({ connector: 'ledger_sync', state: 'RUNNING', restartMs: 0 });
    const health = await checkCdc(
      { kind: 'debezium', url: connect.url, connector: 'ledger-sync' },
      { sides, metrics: createMetrics({ defaults: false }) },
    );
    assert.deepEqual(health, {
      kind: 'debezium',
      healthy: false,
      detail: 'Kafka Connect answered 404 for connector ledger-sync: Connector ledger-sync not found',
    });
    assert.deepEqual(connect.requests, ['GET /connectors/ledger-sync/status']);
  });

  it('a fault fails a running task until it is restarted', async () => {
    connect = await startKafkaConnect({
      connector: 'ledger_sync',
      state: 'RUNNING',
      restartMs: 1000,
      now: () => clock,
    });
    assert.equal((await check()).healthy, true);
    connect.fail();
    assert.match(
      (await check()).detail,
      /^task 0 is FAILED \(org\.apache\.kafka\.connect\.errors\.ConnectException/,
    );
    connect.restart();
    clock += 1000;
    assert.equal((await check()).healthy, true);
  });
});
