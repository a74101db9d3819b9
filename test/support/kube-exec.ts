// An exec front for the simulated API server (src/drill): relays every exec to it over v4.channel.k8s.io and adds
// two behaviours of real clusters its tiny shell lacks:
// - `jcmd <pid> GC.heap_dump` prints its pid line, then nothing until the dump is written: minutes for a big heap
//   (https://docs.oracle.com/en/java/javase/21/docs/specs/man/jcmd.html). The silence runs on virtual timers.
// - The pod network as seen by a TCP probe from another pod. "Network policies are implemented by the network
//   plugin … Creating a NetworkPolicy resource without a controller that implements it will have no effect"
//   (https://kubernetes.io/docs/concepts/services-networking/network-policies/#prerequisites): with
//   `enforces: false` a fenced pod stays reachable; with `enforces: true` it is unreachable once fenced, after the
//   plugin has caught up (`lagProbes` probes still get through, as rules are programmed asynchronously).
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import WebSocket, { WebSocketServer } from 'ws';
import { exitStatus, K8S_TOKEN, NAMESPACE, type FakeCluster } from '../../src/drill/kubernetes.ts';
import type { VirtualTimers } from './virtual-timers.ts';

const PROTOCOL = 'v4.channel.k8s.io';

export interface PodNetwork {
  /** Whether the cluster's network plugin enforces NetworkPolicy (Calico, Cilium: yes; flannel alone: no). */
  enforces: boolean;
  /** Probes that still get through after a pod is fenced, while the plugin programs its rules. */
  lagProbes: number;
  /** Pod IP -> pod name. */
  ips: Map<string, string>;
  /** Pods selected by a deny-all policy (the test marks them when the API accepts the policy and the label). */
  fenced: Set<string>;
}

export class ExecFront {
  readonly upstream: FakeCluster;
  readonly timers: VirtualTimers;
  port = 0;
  /** Virtual milliseconds jcmd stays silent after its pid line while writing a heap dump. */
  heapDumpSilenceMs = 0;
  readonly network: PodNetwork = { enforces: true, lagProbes: 0, ips: new Map(), fenced: new Set() };
  /** Every probe: from which pod, to which address, and whether it got through. */
  readonly probes: { from: string; ip: string; port: number; reached: boolean }[] = [];
  #server: Server;
  #wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (p) => (p.has(PROTOCOL) ? PROTOCOL : false),
  });
  /** Answers REST requests itself when it returns a response (a controller model); others reach the drill server. */
  rest?: (req: {
    method: string;
    path: string;
    query: URLSearchParams;
    body: unknown;
  }) => { status: number; body: unknown } | undefined;
  #silent: (() => void)[] = [];
  #lagLeft = new Map<string, number>();

  constructor(upstream: FakeCluster, timers: VirtualTimers) {
    this.upstream = upstream;
    this.timers = timers;
    // REST goes straight through (tests nock it on this front's URL; what is not nocked reaches the drill server).
    this.#server = createServer((req, res) => {
      if (this.rest) {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const url = new URL(req.url ?? '/', 'http://x');
          const text = Buffer.concat(chunks).toString('utf8');
          const answer = this.rest?.({
            method: req.method ?? 'GET',
            path: url.pathname,
            query: url.searchParams,
            body: text ? (JSON.parse(text) as unknown) : undefined,
          });
          if (answer) {
            res.writeHead(answer.status, { 'content-type': 'application/json' });
            res.end(JSON.stringify(answer.body));
            return;
          }
          const out = request(
            {
              host: '127.0.0.1',
              port: upstream.port,
              path: req.url,
              method: req.method,
              headers: req.headers,
            },
            (up) => {
              res.writeHead(up.statusCode ?? 500, up.headers);
              up.pipe(res);
            },
          );
          out.end(text);
        });
        return;
      }
      const out = request(
        { host: '127.0.0.1', port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 500, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(out);
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#upgrade(req, socket, head),
    );
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'test', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'cloud-safety', token: K8S_TOKEN }],
      contexts: [{ name: 'test', cluster: 'test', user: 'cloud-safety', namespace: NAMESPACE }],
      currentContext: 'test',
    });
    return kc;
  }

  /** Resolves once a heap dump has printed its pid line and gone quiet. */
  heapDumpSilent(): Promise<void> {
    return new Promise((resolve) => this.#silent.push(resolve));
  }

  /** The API accepted a deny-all policy selecting this pod: an enforcing plugin fences it after its lag. */
  fence(pod: string): void {
    this.network.fenced.add(pod);
    this.#lagLeft.set(pod, this.network.lagProbes);
  }

  #reachable(target: string | undefined): boolean {
    if (!target) return false;
    if (!this.network.enforces || !this.network.fenced.has(target)) return true;
    const lag = this.#lagLeft.get(target) ?? 0;
    if (lag <= 0) return false;
    this.#lagLeft.set(target, lag - 1);
    return true;
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const pod = decodeURIComponent(/\/pods\/([^/]+)\/exec$/.exec(url.pathname)?.[1] ?? '');
    const command = url.searchParams.getAll('command');
    const script = command[0] === 'sh' && command[1] === '-c' ? (command[2] ?? '') : '';
    const probe = /\bnc -z -w \d+ (\S+) (\d+)/.exec(script);
    if (probe?.[1] && probe[2]) {
      const ip = probe[1];
      const port = Number(probe[2]);
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        const reached = this.#reachable(this.network.ips.get(ip));
        this.probes.push({ from: pod, ip, port, reached });
        const send = (channel: number, text: string) =>
          ws.send(Buffer.concat([Buffer.from([channel]), Buffer.from(text)]), { binary: true });
        send(1, '');
        send(2, '');
        send(3, JSON.stringify(exitStatus(reached ? 0 : 1)));
        ws.close(1000);
      });
      return;
    }
    const heapDump = /^jcmd \d+ GC\.heap_dump\b/.test(script) && this.heapDumpSilenceMs > 0;
    const upstream = new WebSocket(`ws://127.0.0.1:${this.upstream.port}${req.url ?? '/'}`, [PROTOCOL], {
      headers: { authorization: String(req.headers.authorization ?? '') },
      perMessageDeflate: false,
    });
    upstream.on('unexpected-response', (_r, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        socket.end(
          `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString()}`,
        );
      });
    });
    upstream.on('error', () => socket.destroy());
    upstream.on('open', () => {
      this.#wss.handleUpgrade(req, socket, head, (client) => this.#relay(client, upstream, heapDump));
    });
  }

  #relay(client: WebSocket, upstream: WebSocket, heapDump: boolean): void {
    let held: Buffer[] | undefined;
    let closeHeld = false;
    let pidLineSent = false;
    client.on('message', (data: Buffer) => upstream.send(data, { binary: true }));
    upstream.on('message', (data: Buffer) => {
      if (held) {
        held.push(data);
        return;
      }
      if (heapDump && !pidLineSent && data[0] === 1 && data.length > 1) {
        // jcmd answers with "<pid>:" at once, then writes the dump before saying anything more.
        const text = data.subarray(1);
        const newline = text.indexOf(10);
        const pidLine = text.subarray(0, newline + 1);
        client.send(Buffer.concat([Buffer.from([1]), pidLine]), { binary: true });
        pidLineSent = true;
        held = [Buffer.concat([Buffer.from([1]), text.subarray(newline + 1)])];
        this.timers.set(() => {
          for (const frame of held ?? []) client.send(frame, { binary: true });
          held = undefined;
          if (closeHeld) client.close(1000);
        }, this.heapDumpSilenceMs);
        for (const resolve of this.#silent.splice(0)) resolve();
        return;
      }
      client.send(data, { binary: true });
    });
    upstream.on('close', () => {
      if (held) closeHeld = true;
      else client.close(1000);
    });
    client.on('close', () => upstream.close());
  }
}
