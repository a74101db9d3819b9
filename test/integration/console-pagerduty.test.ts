// The console and the PagerDuty mirror: the prompt comes back when a command is done, not when the mirror's note
// window closes (the drill's dead time after every command); the notes still go out, at the latest when input ends.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import nock from 'nock';
import { DEFAULT_MIRROR_OPTIONS } from '../../flows/pagerduty/mirror.ts';
import { ConsoleChat } from '../../src/chat/console/chat.ts';
import { ConsoleSession } from '../../src/chat/console/repl.ts';
import { parseConfig } from '../../src/config.ts';
import { buildBot } from '../../src/main.ts';
import { createMetrics } from '../../src/metrics.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { memoryLogger } from '../support/bot.ts';
import { useNock } from '../support/nock.ts';
import {
  PD_API,
  PD_FROM,
  PD_SERVICE,
  PD_TOKEN,
  ROUTING_KEY,
  pdIncident,
  pdNote,
} from '../support/pagerduty.ts';

describe('console with the PagerDuty mirror', () => {
  useNock();

  it('returns the prompt before the note window closes, and sends the notes before the session ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-console-pd-'));
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
              pagerduty: { serviceId: PD_SERVICE, routingKey: { env: 'PAYMENTS_PD_ROUTING_KEY' } },
            },
          },
        },
        'console test',
      );
      const { log, redactor } = memoryLogger();
      const bot = buildBot({
        config,
        store: new MemoryStore(),
        chat,
        log,
        redactor,
        metrics: createMetrics({ defaults: false }),
        editIntervalMs: 0,
        env: { PAGERDUTY_TOKEN: PD_TOKEN, PAGERDUTY_FROM: PD_FROM, PAYMENTS_PD_ROUTING_KEY: ROUTING_KEY },
        // Production's window (2 s), so "before it closes" has a wide margin; no call spacing to wait out.
        pagerdutyMirror: { minCallIntervalMs: 0 },
      });
      assert.equal(DEFAULT_MIRROR_OPTIONS.batchWindowMs, 2000);
      const sent: string[] = [];
      const pd = nock(PD_API).matchHeader('authorization', `Token token=${PD_TOKEN}`);
      pd.post('/incidents').reply(201, () => {
        sent.push('create');
        return { incident: pdIncident({ title: '[INC-1] payments: Cloud pods OOMKilled' }) };
      });
      pd.post('/incidents/PT4KHLK/notes').reply(201, async (request: Request) => {
        const content = ((await request.json()) as { note: { content: string } }).note.content;
        sent.push(`note: ${content.split('\n')[1] ?? ''}`);
        return pdNote(content);
      });
      const input = new PassThrough();
      const session = new ConsoleSession(bot, {
        input,
        out,
        chat,
        user: 'alice',
        channel: '#incident',
        interactive: false,
      });

      await session.handleLine('/incident declare payments sev=1 Cloud pods OOMKilled');
      // The command is done (its reply is printed) while the mirror's window is still open: nothing sent yet.
      assert.match(output, /PagerDuty: opening an incident on service PWIXJZS/);
      assert.deepEqual(sent, [], 'the prompt did not wait for the note window');

      // End of input: the session waits for the mirror, so a piped script's notes all go out.
      const ran = session.run();
      input.end();
      await ran;
      assert.equal(sent.length, 2, sent.join('\n'));
      assert.equal(sent[0], 'create');
      assert.match(
        sent[1] ?? '',
        /^note: \S+ - alice: alice declared INC-1 on payments \(SEV1\): Cloud pods OOMKilled$/,
      );
      await bot.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
