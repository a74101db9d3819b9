// A Kafka Connect REST API for the drill's CDC (Debezium carrying cloud writes back to legacy): the calls a responder
// and the bot make, shaped like Apache Kafka's Connect REST API. `GET /connectors/{name}/status` (the bot's CDC check),
// `GET /connectors`, and the KIP-745 restart `POST /connectors/{name}/restart?includeTasks=true&onlyFailed=true`
// (202 with the instances RESTARTING; without the parameters, 204 and only the connector restarts). As in a real
// Connect cluster, status is eventually consistent: a restarted task reports RESTARTING until it is running again.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type DrillBind, listenOn } from './bind.ts';

export type TaskState = 'RUNNING' | 'FAILED' | 'PAUSED' | 'UNASSIGNED' | 'RESTARTING';

/** What a failed Debezium task reports: the first line is what the bot quotes. */
export const FAILED_TRACE =
  'org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change event producer. This connector will be stopped.\n' +
  '\tat io.debezium.pipeline.ErrorHandler.setProducerThrowable(ErrorHandler.java:67)\n' +
  'Caused by: org.postgresql.util.PSQLException: ERROR: replication slot "ledger_sync" is active for PID 4182\n';

const WORKER = '10.42.7.19:8083';

export interface KafkaConnectOptions {
  connector: string;
  /** The task's state at the start (the scenario's `cdc.state`). */
  state: 'RUNNING' | 'FAILED';
  /** How long a restarted task reports RESTARTING before RUNNING (a real one reconnects to its slot first). */
  restartMs: number;
  now?: () => number;
  /** Where it listens and the name in its URL (other replicas reach a drill's simulators by it). */
  bind?: DrillBind;
}

export interface KafkaConnectServer {
  url: string;
  connector: string;
  /** The task's state as the status endpoint reports it now. */
  state(): TaskState;
  /** The task fails now (a fault): the status says FAILED with Debezium's trace until it is restarted. */
  fail(): void;
  /** The task is restarted (a fault's repair, or the restart call): RESTARTING, then RUNNING. */
  restart(): void;
  /** Requests answered so far, by "METHOD path". */
  requests: string[];
  stop(): Promise<void>;
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export async function startKafkaConnect(opts: KafkaConnectOptions): Promise<KafkaConnectServer> {
  const now = opts.now ?? Date.now;
  let failed = opts.state === 'FAILED';
  let restartedAt: number | undefined;
  const requests: string[] = [];

  const taskState = (): TaskState => {
    if (failed) return 'FAILED';
    if (restartedAt !== undefined && now() - restartedAt < opts.restartMs) return 'RESTARTING';
    return 'RUNNING';
  };
  const status = () => {
    const state = taskState();
    return {
      name: opts.connector,
      connector: { state: 'RUNNING', worker_id: WORKER },
      tasks: [{ id: 0, state, worker_id: WORKER, ...(state === 'FAILED' ? { trace: FAILED_TRACE } : {}) }],
      type: 'source',
    };
  };
  const restart = () => {
    failed = false;
    restartedAt = now();
  };
  const notFound = (res: ServerResponse, name: string) =>
    send(res, 404, { error_code: 404, message: `Connector ${name} not found` });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://drill');
    requests.push(`${req.method} ${url.pathname}`);
    if (req.method === 'GET' && url.pathname === '/connectors') return send(res, 200, [opts.connector]);
    const match = /^\/connectors\/([^/]+)(\/status|\/restart)?$/.exec(url.pathname);
    if (!match) return send(res, 404, { error_code: 404, message: 'HTTP 404 Not Found' });
    const name = decodeURIComponent(match[1] ?? '');
    if (name !== opts.connector) return notFound(res, name);
    if (req.method === 'GET' && match[2] === '/status') return send(res, 200, status());
    if (req.method === 'POST' && match[2] === '/restart') {
      const includeTasks = url.searchParams.get('includeTasks') === 'true';
      const onlyFailed = url.searchParams.get('onlyFailed') === 'true';
      // Without includeTasks only the connector instance restarts: a failed task stays failed (a classic mistake).
      if (!includeTasks && !onlyFailed) return send(res, 204);
      if (includeTasks && (!onlyFailed || taskState() === 'FAILED')) restart();
      const body = status();
      return send(res, 202, {
        ...body,
        connector: { state: onlyFailed ? 'RUNNING' : 'RESTARTING', worker_id: WORKER },
      });
    }
    return send(res, 405, { error_code: 405, message: 'HTTP 405 Method Not Allowed' });
  };

  const server: Server = createServer((req, res) => {
    // Like a real worker, answer after the body is read.
    req.resume();
    req.on('end', () => handle(req, res));
  });
  const listening = await listenOn(server, opts.bind);
  return {
    url: listening.url,
    connector: opts.connector,
    state: taskState,
    fail: () => {
      failed = true;
    },
    restart,
    requests,
    stop: listening.stop,
  };
}
