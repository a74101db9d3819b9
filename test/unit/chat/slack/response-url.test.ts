// response_url replies over kept-alive connections, and Slack's refusals as errors the reply fallback understands.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postResponseUrl, ResponseUrlError } from '../../../../src/chat/slack/response-url.ts';

describe('postResponseUrl', () => {
  let server: Server;
  let url: string;
  let connections = 0;
  const bodies: unknown[] = [];
  let status = 200;

  before(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(text));
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status === 200 ? 'ok' : 'used_url');
      });
    });
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/actions/T1/123/abc`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('posts the message as JSON and reuses one connection for replies in a row', async () => {
    const message = { response_type: 'ephemeral', replace_original: false, text: 'Approval card posted' };
    for (let i = 0; i < 5; i++) await postResponseUrl(url, message);
    assert.deepEqual(bodies.at(-1), message);
    assert.equal(bodies.length, 5);
    assert.equal(connections, 1, 'kept alive, not one connection per reply');
  });

  it("rejects with the status on Slack's 404 (used_url), which the reply falls back from", async () => {
    status = 404;
    await assert.rejects(
      postResponseUrl(url, { text: 'sixth' }),
      (err: unknown) =>
        err instanceof ResponseUrlError && err.response.status === 404 && /used_url/.test(err.message),
    );
    status = 200;
  });

  it('refuses a url that is not http(s) and sends nothing', async () => {
    const before = bodies.length;
    await assert.rejects(postResponseUrl('file:///etc/passwd', { text: 'x' }), /must be http\(s\)/);
    assert.equal(bodies.length, before);
  });
});
