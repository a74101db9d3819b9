// A TCP proxy for wire protocols the HTTP fault proxy cannot speak (PostgreSQL): forwards everything, and on demand
// lets the server carry out a COMMIT, swallows the server's answer and cuts the client off, so the client cannot
// know whether its transaction committed.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpFaultProxy {
  port: number;
  /** The next client chunk containing this text (e.g. a simple-query `COMMIT`) reaches the server; its answer is lost. */
  loseAnswerTo(text: string): void;
  /** How many answers were lost so far. */
  lost: number;
  stop(): Promise<void>;
}

export async function startTcpFaultProxy(target: { host: string; port: number }): Promise<TcpFaultProxy> {
  let armed: Buffer | undefined;
  const sockets = new Set<Socket>();
  const proxy: TcpFaultProxy = {
    port: 0,
    lost: 0,
    loseAnswerTo(text) {
      armed = Buffer.from(`${text}\0`);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection(target);
    sockets.add(client);
    sockets.add(upstream);
    let cutting = false;
    const cut = () => {
      client.destroy();
      upstream.end();
    };
    client.on('data', (chunk: Buffer) => {
      if (armed && chunk.includes(armed)) {
        armed = undefined;
        cutting = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cutting) {
        // The server has answered, so it has carried the request out: the client never hears of it.
        proxy.lost += 1;
        cut();
        return;
      }
      client.write(chunk);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      sockets.delete(client);
      upstream.end();
    });
    upstream.on('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  proxy.port = typeof address === 'object' && address ? address.port : 0;
  return proxy;
}
