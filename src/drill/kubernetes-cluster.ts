// The simulated Kubernetes API server: exec over WebSocket (v4.channel.k8s.io) into pods with a tiny shell, and REST reads.
import { LOCAL_BIND, urlHost, type DrillBind } from './bind.ts';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { WebSocketServer, type WebSocket } from 'ws';
import { fileSize, fileSlices } from './kubernetes-files.ts';
import { runShell, type FakePod, type Outcome } from './kubernetes-shell.ts';

export type { FakePod } from './kubernetes-shell.ts';
import {
  K8S_TOKEN,
  NAMESPACE,
  eventList,
  exitStatus,
  podList,
  podMetricsList,
  podObject,
  status400,
  status403,
  status404,
  type PodSpecInput,
} from './kubernetes-objects.ts';

/** Stdout goes out in slices of this size, one frame each: the kubelet's and API server's io.Copy buffer is 32 KiB. */
const SLICE_BYTES = 32 * 1024;
/** Stdout frame buffers to keep: 2 MiB of frames in flight. */
const MAX_FRAMES = 64;

export interface ExecCall {
  pod: string;
  container: string;
  command: string[];
  authorization: string | undefined;
  protocol: string;
}

/** What the REST side of a served cluster reads, asked afresh on every request (a drill's pods change). */
export interface ClusterWorld {
  pods(): PodSpecInput[];
  /** Working-set memory per pod name, as the metrics API reports it (e.g. "1900Mi"). */
  usage(): Record<string, string>;
  events(): { pod: string; reason: string; message: string; count?: number; last: string }[];
  log(pod: string): string;
  /** The write side and the kinds the reads above do not cover (a drill's control plane); undefined: not served. */
  request?(method: string, path: string, body: unknown): RestAnswer | undefined;
  /** The pod network: a TCP connection from pod `from` to ip:port, resolving as late as the connection takes. */
  connect?(from: string, ip: string, port: number, timeoutS: number): Promise<boolean>;
  /** `sleep` in a pod's shell. */
  sleep?(seconds: number): Promise<void>;
}

export interface RestAnswer {
  status: number;
  body: unknown;
}

/** The bot's TCP probe script (src/adapters/kubernetes/probe.ts): an optional sleep, then nc or bash's /dev/tcp. */
const PROBE =
  /^(?:sleep (\d+); )?if command -v nc >\/dev\/null 2>&1; then nc -z -w (\d+) (\S+) (\d+) \|\| exit 1; elif command -v bash /;

/** Equality-based label selectors (`a=b,c=d`), the only kind the bot sends. */
function matchesSelector(pod: PodSpecInput, selector: string | null): boolean {
  if (!selector) return true;
  const labels = pod.labels ?? { app: 'payments', track: 'cloud', 'pod-template-hash': '7d9f8b6c5' };
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    return key !== undefined && labels[key.trim()] === value?.trim();
  });
}

export class FakeCluster {
  readonly pods = new Map<string, FakePod>();
  readonly execs: ExecCall[] = [];
  /** REST requests nock did not answer (they reached this server): a test bug or an unexpected call. */
  readonly unexpected: string[] = [];
  forbidExec = false;
  /** How long the kubelet takes to start an exec (real ones take a few hundred ms to seconds); tests keep 0. */
  execStartMs = 0;
  #world: ClusterWorld | undefined;
  /** Stdout frame buffers (channel byte + one slice) the socket has finished with, ready for the next frame. */
  #frames: Buffer[] = [];
  /** How many stdout frame buffers were ever allocated: bounded by what the socket may hold, not by the bytes sent. */
  frameBuffers = 0;
  #server: Server;
  #wss: WebSocketServer;
  port = 0;
  #advertise = '127.0.0.1';

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => this.#respond(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false),
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
      const reject = (code: number, body: Record<string, unknown>) => {
        const text = JSON.stringify(body);
        socket.end(
          `HTTP/1.1 ${code} ${code === 403 ? 'Forbidden' : 'Not Found'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
        );
      };
      if (!match?.[2]) return reject(404, status404('path', url.pathname));
      const podName = decodeURIComponent(match[2]);
      const command = url.searchParams.getAll('command');
      const container = url.searchParams.get('container') ?? '';
      this.execs.push({
        pod: podName,
        container,
        command,
        authorization: req.headers.authorization,
        protocol: String(req.headers['sec-websocket-protocol'] ?? ''),
      });
      if (this.forbidExec) return reject(403, status403('create', 'pods/exec', podName));
      const pod = this.pods.get(podName);
      if (!pod) return reject(404, status404('pods', podName));
      const upgrade = () =>
        this.#wss.handleUpgrade(
          req,
          socket,
          head,
          (ws) => void this.#run(ws, podName, pod, container, command),
        );
      if (this.execStartMs > 0) setTimeout(upgrade, this.execStartMs);
      else upgrade();
    });
  }

  /** What `serve` was given (a drill's control plane), if anything. */
  get served(): ClusterWorld | undefined {
    return this.#world;
  }

  #respond(req: IncomingMessage, res: ServerResponse, text: string): void {
    const send = (code: number, body: unknown, type = 'application/json') => {
      res.writeHead(code, { 'content-type': type });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (this.#answer(req.method ?? 'GET', req.url ?? '/', send)) return;
    let body: unknown;
    try {
      body = text ? (JSON.parse(text) as unknown) : undefined;
    } catch {
      return send(400, status400(`the request body is not JSON: ${text.slice(0, 80)}`));
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const answer = this.#world?.request?.(req.method ?? 'GET', path, body);
    if (answer) return send(answer.status, answer.body);
    this.unexpected.push(`${req.method} ${req.url}`);
    send(500, {
      kind: 'Status',
      status: 'Failure',
      message: `unexpected ${req.method} ${req.url}`,
      code: 500,
    });
  }

  async start(bind: DrillBind = LOCAL_BIND): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, bind.host, resolve));
    this.port = (this.#server.address() as AddressInfo).port;
    this.#advertise = urlHost(bind.advertise);
  }

  get url(): string {
    return `http://${this.#advertise}:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** A KubeConfig as a user would have it, pointing at this server with a bearer token. */
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

  /**
   * Serves the read side of the API itself (pods, pod metrics, events, logs) from `world`, as a drill does;
   * tests leave it unset and answer REST with nock.
   */
  serve(world: ClusterWorld): void {
    this.#world = world;
  }

  #answer(
    method: string,
    rawUrl: string,
    send: (code: number, body: unknown, type?: string) => void,
  ): boolean {
    const world = this.#world;
    if (!world || method !== 'GET') return false;
    const url = new URL(rawUrl, 'http://x');
    const path = url.pathname;
    const ns = `/namespaces/${NAMESPACE}`;
    if (path === `/api/v1${ns}/pods`) {
      send(
        200,
        podList(world.pods().filter((p) => matchesSelector(p, url.searchParams.get('labelSelector')))),
      );
      return true;
    }
    if (path === `/apis/metrics.k8s.io/v1beta1${ns}/pods`) {
      send(200, podMetricsList(world.usage()));
      return true;
    }
    if (path === `/api/v1${ns}/events`) {
      send(200, eventList(world.events()));
      return true;
    }
    const log = new RegExp(`^/api/v1${ns}/pods/([^/]+)/log$`).exec(path);
    if (log?.[1]) {
      send(200, world.log(decodeURIComponent(log[1])), 'text/plain');
      return true;
    }
    const one = new RegExp(`^/api/v1${ns}/pods/([^/]+)$`).exec(path);
    if (one?.[1]) {
      const name = decodeURIComponent(one[1]);
      const pod = world.pods().find((p) => p.name === name);
      send(pod ? 200 : 404, pod ? podObject(pod) : status404('pods', name));
      return true;
    }
    return false;
  }

  addPod(name: string, pod: Partial<FakePod> = {}): FakePod {
    const fake: FakePod = {
      files: new Map(),
      tools: new Set(['sh', 'jcmd', 'sha256sum', 'wc', 'tail', 'head', 'rm']),
      threads: `"main" #1 prio=5 os_prio=0 tid=0x1 nid=0x1 runnable\n   java.lang.Thread.State: RUNNABLE\n`,
      ...pod,
    };
    this.pods.set(name, fake);
    return fake;
  }

  /** The bot's TCP probe, answered by the served world's pod network (without one the tiny shell does not know it). */
  async #probe(podName: string, pod: FakePod, command: string[]): Promise<Outcome | undefined> {
    const world = this.#world;
    const m = command[0] === 'sh' && command[1] === '-c' ? PROBE.exec(command[2] ?? '') : null;
    if (!world?.connect || !m?.[2] || !m[3] || !m[4] || pod.noShell) return undefined;
    if (m[1]) await world.sleep?.(Number(m[1]));
    if (!pod.tools.has('nc') && !pod.tools.has('bash'))
      return { stderr: 'neither nc nor bash in the image\n', exit: 127 };
    const reached = await world.connect(podName, m[3], Number(m[4]), Number(m[2]));
    return { exit: reached ? 0 : 1 };
  }

  /** Interprets the few shell lines the bot sends, the way sh in the pod would. */
  #interpret(podName: string, pod: FakePod, container: string, command: string[]): Outcome {
    if (pod.noShell) {
      return {
        status: {
          metadata: {},
          status: 'Failure',
          message: `Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "abc": OCI runtime exec failed: exec failed: unable to start container process: exec: "${command[0]}": executable file not found in $PATH: unknown`,
          reason: 'InternalError',
          details: { causes: [{ message: `exec: "${command[0]}": executable file not found in $PATH` }] },
          code: 500,
        },
      };
    }
    if (command[0] === 'rm' && command[1] === '-f' && command[2]) {
      pod.files.delete(command[2]);
      return { exit: 0 };
    }
    if (command[0] === 'sh' && command[1] === '-c' && command[2] !== undefined) {
      const tools = container.startsWith('cs-debug-') ? (pod.debugTools ?? pod.tools) : pod.tools;
      return runShell(pod, tools, command[2]);
    }
    if (command[0] === 'echo-stdin') return { exit: 0 };
    return { stderr: `${command[0]}: not found\n`, exit: 127 };
  }

  #newFrame(): Buffer {
    this.frameBuffers++;
    return Buffer.allocUnsafeSlow(SLICE_BYTES + 1);
  }

  async #run(
    ws: WebSocket,
    podName: string,
    pod: FakePod,
    container: string,
    command: string[],
  ): Promise<void> {
    const send = (channel: number, data: Buffer) =>
      new Promise<void>((resolve, reject) => {
        // Like the real API server (wsstream copies each read into a frame one byte longer for the channel),
        // but a full slice's frame buffer is reused once the socket has taken it: a fresh one per 32 KiB made
        // this process collect garbage for a third of its CPU.
        const pooled = data.length === SLICE_BYTES;
        const frame = pooled ? (this.#frames.pop() ?? this.#newFrame()) : Buffer.allocUnsafe(data.length + 1);
        frame[0] = channel;
        data.copy(frame, 1);
        ws.send(frame, { binary: true }, (err) => {
          if (err) return reject(err);
          if (pooled) this.#frames.push(frame);
          resolve();
        });
      });
    try {
      // The server opens stdout and stderr with an empty frame each.
      await send(1, Buffer.alloc(0));
      await send(2, Buffer.alloc(0));
      if (command[0] === 'echo-stdin') {
        const want = Number(command[1] ?? '0');
        let got = 0;
        await new Promise<void>((resolve) => {
          ws.on('message', (data: Buffer) => {
            if (data[0] !== 0) return;
            got += data.length - 1;
            void send(1, data.subarray(1)).then(() => {
              if (got >= want) resolve();
            });
          });
        });
        await send(3, Buffer.from(JSON.stringify(exitStatus(0))));
        ws.close(1000);
        return;
      }
      const outcome =
        (await this.#probe(podName, pod, command)) ?? this.#interpret(podName, pod, container, command);
      if (outcome.delayMs) await new Promise((resolve) => setTimeout(resolve, outcome.delayMs));
      if (outcome.stdout !== undefined) {
        const file = typeof outcome.stdout === 'string' ? Buffer.from(outcome.stdout) : outcome.stdout;
        const [start, end] = outcome.range ?? [0, fileSize(file)];
        let sent = 0;
        for (const slice of fileSlices(file, start, end, SLICE_BYTES)) {
          if (outcome.cutAfter !== undefined && sent + slice.length > outcome.cutAfter) {
            const rest = outcome.cutAfter - sent;
            if (rest > 0) await send(1, slice.subarray(0, rest));
            if (pod.dieAt !== undefined && end > pod.dieAt) this.pods.delete(podName);
            ws.terminate();
            return;
          }
          if (pod.stallAfter !== undefined && sent >= pod.stallAfter) return;
          // Like a real server: keep frames flowing, wait only when the client stops reading (or every frame
          // buffer is still with the socket, which also bounds what this process holds).
          const written = send(1, slice);
          if (
            ws.bufferedAmount > 2 * 1024 * 1024 ||
            (this.#frames.length === 0 && this.frameBuffers >= MAX_FRAMES)
          )
            await written;
          else written.catch(() => {});
          sent += slice.length;
        }
      }
      if (outcome.stderr) await send(2, Buffer.from(outcome.stderr));
      await send(3, Buffer.from(JSON.stringify(outcome.status ?? exitStatus(outcome.exit ?? 0))));
      if (!pod.holdOpen) ws.close(1000);
    } catch {
      ws.terminate();
    }
  }
}
