// The ack benchmark's load generator sends what Slack sends: a fresh response_url with every command, in every run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';

const exec = promisify(execFile);

describe('bench load worker', () => {
  let server: Server;
  let port = 0;
  const urls: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        urls.push(new URLSearchParams(body).get('response_url') ?? '');
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('never hands out the same response_url twice, across runs', async () => {
    // Slack takes five replies on one url: a url seen a sixth time sends the bot's reply through the Web API, so
    // reused urls measured a fallback path instead of the burst of fresh commands the benchmark stands for.
    for (let run = 0; run < 2; run++) {
      const { stdout } = await exec(process.execPath, [
        'bench/load-worker.ts',
        String(port),
        'http://127.0.0.1:9',
        '4',
        '2',
        'secret',
        '2',
      ]);
      assert.equal((JSON.parse(stdout) as { errors: number }).errors, 0);
    }
    assert.equal(urls.length, 8);
    assert.equal(new Set(urls).size, 8, `reused: ${urls.join(' ')}`);
  });
});
