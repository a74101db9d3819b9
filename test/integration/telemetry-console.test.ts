// Console mode: /telemetry prints the snapshot table and writes the chart PNG to a path it prints.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import nock from 'nock';
import { LocalEvidenceStore } from '../../src/adapters/evidence/local.ts';
import { KubeClusters } from '../../src/adapters/kubernetes/client.ts';
import { ConsoleChat } from '../../src/chat/console/chat.ts';
import { ConsoleSession } from '../../src/chat/console/repl.ts';
import { parseConfig } from '../../src/config.ts';
import { buildBot } from '../../src/main.ts';
import { createMetrics } from '../../src/metrics.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { memoryLogger } from '../support/bot.ts';
import {
  eventList,
  FakeCluster,
  NAMESPACE,
  podList,
  podMetricsList,
  podObject,
} from '../../src/drill/kubernetes.ts';
import { useNock } from '../support/nock.ts';

describe('/telemetry in the console', () => {
  useNock();

  it('prints the table and the path of the chart PNG', async () => {
    const server = new FakeCluster();
    await server.start();
    const dir = mkdtempSync(join(tmpdir(), 'cs-console-'));
    try {
      let output = '';
      const out = new Writable({
        write(chunk, _enc, done) {
          output += String(chunk);
          done();
        },
      });
      const chat = new ConsoleChat({ out, filesDir: join(dir, 'files') });
      const config = parseConfig(
        {
          access: { responders: ['*'], approvers: ['*'] },
          evidence: { dir: join(dir, 'evidence') },
          services: {
            payments: {
              kubernetes: {
                namespace: NAMESPACE,
                selector: 'app=payments',
                container: 'app',
                runtime: 'python',
              },
            },
          },
        },
        'console test',
      );
      const { log, redactor } = memoryLogger();
      const metrics = createMetrics({ defaults: false });
      const bot = buildBot({
        config,
        store: new MemoryStore(),
        chat,
        log,
        redactor,
        metrics,
        editIntervalMs: 0,
        env: {},
        adapters: {
          kubernetes: new KubeClusters(server.kubeConfig(), metrics),
          evidence: new LocalEvidenceStore(join(dir, 'evidence')),
        },
      });
      const session = new ConsoleSession(bot, {
        input: new PassThrough(),
        out,
        chat,
        user: 'alice',
        channel: '#incident',
        interactive: false,
      });
      const pods = [{ name: 'payments-7d9f8b6c5-aaaaa', restarts: 2 }];
      const api = nock(server.url, { allowUnmocked: true });
      api
        .get(`/api/v1/namespaces/${NAMESPACE}/pods`)
        .query({ labelSelector: 'app=payments' })
        .reply(200, podList(pods));
      api
        .get(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`)
        .query(true)
        .reply(200, podMetricsList({ 'payments-7d9f8b6c5-aaaaa': '1024Mi' }));
      api.get(`/api/v1/namespaces/${NAMESPACE}/events`).query(true).reply(200, eventList([]));
      api
        .get(`/api/v1/namespaces/${NAMESPACE}/pods/payments-7d9f8b6c5-aaaaa`)
        .reply(200, podObject(pods[0] ?? { name: '' }));
      api
        .get(`/api/v1/namespaces/${NAMESPACE}/pods/payments-7d9f8b6c5-aaaaa/log`)
        .query(true)
        .reply(200, 'Traceback\n');
      server.addPod('payments-7d9f8b6c5-aaaaa', { tools: new Set(['sh']) });

      await session.handleLine('/incident declare payments');
      await session.handleLine('/telemetry');
      await bot.stop();

      assert.match(output, /WORKLOAD SNAPSHOT · PAYMENTS · PAYMENTS/);
      assert.match(output, /POD +STATUS +READY +RESTARTS +LAST EXIT +MEMORY \/ LIMIT +% +NODE/);
      assert.match(
        output,
        /payments-7d9f8b6c5-aaaaa +Running +yes +2 +- +1\.0 GiB \/ 2\.0 GiB +50 +ip-10-0-1-17/,
      );
      const png = /📎 .*: (\S+\.png)/.exec(output)?.[1];
      assert.ok(png && existsSync(png), `the chart path is printed and exists: ${png}`);
      assert.equal(readFileSync(png).subarray(1, 4).toString(), 'PNG');
      assert.match(output, /the image has no `py-spy`/);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
