// The channel WebSocket client against the `ws` server: fragments, control frames, the closing handshake, and
// payloads handed on as views of the socket's reads rather than copies.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ChannelSocket } from '../../../../src/adapters/kubernetes/websocket.ts';

const PROTOCOL = 'v4.channel.k8s.io';

describe('channel WebSocket client', () => {
  let http: Server;
  let wss: WebSocketServer;
  let serve: (ws: WebSocket) => void;

  beforeEach(async () => {
    http = createServer();
    wss = new WebSocketServer({
      server: http,
      perMessageDeflate: false,
      handleProtocols: (p) => (p.has(PROTOCOL) ? PROTOCOL : false),
    });
    wss.on('connection', (ws) => serve(ws));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  });

  afterEach(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await new Promise((resolve) => http.close(resolve));
  });

  function connect(): ChannelSocket {
    const { port } = http.address() as AddressInfo;
    return new ChannelSocket(`ws://127.0.0.1:${port}/exec`, PROTOCOL, {
      maxPayload: 16 * 1024 * 1024,
      handshakeTimeoutMs: 5000,
    });
  }

  function record(socket: ChannelSocket) {
    const pieces = new Map<number, Buffer[]>();
    const ends: number[] = [];
    socket.on('data', (channel, piece) =>
      pieces.set(channel, [...(pieces.get(channel) ?? []), Buffer.from(piece)]),
    );
    socket.on('message-end', (channel) => ends.push(channel));
    const closed = new Promise<[number, string]>((resolve) => socket.on('close', (...args) => resolve(args)));
    return { pieces, ends, closed, bytes: (channel: number) => Buffer.concat(pieces.get(channel) ?? []) };
  }

  it('reads a fragmented message on the channel of its first fragment, then the close code and reason', async () => {
    const body = randomBytes(70_000);
    serve = (ws) => {
      ws.send(Buffer.concat([Buffer.from([1]), body.subarray(0, 10)]), { binary: true, fin: false });
      ws.send(body.subarray(10, 40_000), { binary: true, fin: false });
      ws.send(body.subarray(40_000), { binary: true, fin: true });
      ws.send(Buffer.from([3, ...Buffer.from('{"status":"Success"}')]), { binary: true });
      ws.close(4000, 'done here');
    };
    const socket = connect();
    const got = record(socket);

    assert.deepEqual(await got.closed, [4000, 'done here']);
    assert.equal(socket.protocol, PROTOCOL);
    assert.ok(got.bytes(1).equals(body));
    assert.equal(got.bytes(3).toString(), '{"status":"Success"}');
    assert.deepEqual(got.ends, [1, 3]);
  });

  it('answers a ping with a pong carrying the same bytes, and sends masked messages the server can read', async () => {
    const pong = new Promise<Buffer>((resolve) => {
      serve = (ws) => {
        ws.on('pong', resolve);
        ws.on('message', (data: Buffer) => {
          ws.ping(Buffer.from('are you there'));
          ws.send(data, { binary: true }); // echoed back as-is: channel byte and all
        });
      };
    });
    const socket = connect();
    const got = record(socket);
    await new Promise<void>((resolve) => socket.once('open', () => resolve()));
    const echoed = new Promise((resolve) => socket.once('message-end', resolve));
    socket.send(0, Buffer.from('stdin bytes'));

    assert.equal((await pong).toString(), 'are you there');
    await echoed;
    assert.equal(got.bytes(0).toString(), 'stdin bytes');
    socket.close();
    assert.deepEqual(await got.closed, [1000, '']);
  });

  it('reports 1006 when the connection drops without a close frame', async () => {
    serve = (ws) => {
      ws.send(Buffer.from([1, 1, 2, 3]), { binary: true });
      setTimeout(() => ws.terminate(), 20);
    };
    const got = record(connect());
    assert.deepEqual(await got.closed, [1006, '']);
    assert.deepEqual([...got.bytes(1)], [1, 2, 3]);
  });

  it('hands payloads on as views of the socket reads: no frame is copied into a buffer of its own', async () => {
    // 256 frames of 32 KiB, as the API server sends a file: most straddle two socket reads.
    const frames = 256;
    serve = (ws) => {
      for (let i = 0; i < frames; i++) ws.send(Buffer.concat([Buffer.from([1]), randomBytes(32 * 1024)]));
      ws.close(1000);
    };
    const socket = connect();
    const backing = new Set<ArrayBufferLike>();
    let received = 0;
    socket.on('data', (_channel, piece) => {
      backing.add(piece.buffer);
      received += piece.length;
    });
    await new Promise((resolve) => socket.on('close', resolve));

    assert.equal(received, frames * 32 * 1024);
    // Each socket read is one buffer; a copied frame would be one more (about 1.5x the bytes in all).
    const allocated = [...backing].reduce((sum, b) => sum + b.byteLength, 0);
    assert.ok(allocated < received * 1.2, `${allocated} bytes of buffers behind ${received} bytes received`);
  });
});
