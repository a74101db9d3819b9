// Our own `exec` over WebSocket (v4.channel.k8s.io): done only after the status frame AND the close, with backpressure.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import WebSocket, { type ClientOptions } from 'ws';
import {
  ExecError,
  REAL_TIMERS,
  type ExecFailure,
  type ExecParams,
  type ExecResult,
  type ExecStatus,
  type ExecTimers,
} from './types.ts';

export const EXEC_PROTOCOL = 'v4.channel.k8s.io';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
/** Outgoing data waiting in the socket beyond this makes stdin wait. */
const STDIN_HIGH_WATER = 1024 * 1024;

/** Where the API server is and how to authenticate to it (from the kubeconfig). */
export interface ExecEndpoint {
  /** The cluster's server URL, e.g. https://10.0.0.1:6443 (a path prefix is kept). */
  server: string;
  /** Authorization header, TLS material: what `ws` passes to https.request. */
  options: ClientOptions;
}

function span(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Math.round(ms / 1000)}s`;
}

/** The exec URL: /api/v1/namespaces/{ns}/pods/{pod}/exec?command=…&command=…&container=…&stdout=true&stderr=true */
export function execUrl(
  server: string,
  params: Pick<ExecParams, 'namespace' | 'pod' | 'container' | 'command'> & { stdin?: boolean },
): string {
  const base = new URL(server);
  base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  const prefix = base.pathname.replace(/\/+$/, '');
  base.pathname = `${prefix}/api/v1/namespaces/${encodeURIComponent(params.namespace)}/pods/${encodeURIComponent(params.pod)}/exec`;
  const query = new URLSearchParams();
  for (const part of params.command) query.append('command', part);
  query.set('container', params.container);
  query.set('stdout', 'true');
  query.set('stderr', 'true');
  if (params.stdin) query.set('stdin', 'true');
  base.search = query.toString();
  return base.toString();
}

/** The exit code in a status frame: 0 on Success, the ExitCode cause on NonZeroExitCode, undefined otherwise. */
export function exitCodeOf(status: ExecStatus): number | undefined {
  if (status.status === 'Success') return 0;
  if (status.reason !== 'NonZeroExitCode') return undefined;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  const code = Number(cause?.message);
  return Number.isInteger(code) ? code : undefined;
}

/** A runtime failure to start the command: the binary is not in the image (or no shell to run it). */
function startFailure(status: ExecStatus): ExecFailure {
  return /executable file not found|no such file or directory|not found in \$PATH/i.test(status.message ?? '')
    ? 'missing-tool'
    : 'start-failed';
}

async function readBody(res: IncomingMessage, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    const buf = chunk as Buffer;
    if (size < limit) chunks.push(buf.subarray(0, limit - size));
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}

function statusFromBody(body: string): ExecStatus | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as ExecStatus) : undefined;
  } catch {
    return undefined;
  }
}

function handshakeFailure(httpStatus: number): ExecFailure {
  if (httpStatus === 403) return 'forbidden';
  if (httpStatus === 404) return 'not-found';
  if (httpStatus === 401) return 'unauthorized';
  if (httpStatus === 400) return 'bad-request';
  return 'unavailable';
}

/**
 * Runs one command in a container and resolves with its exit code once the status frame and the close have both
 * arrived. Rejects with ExecError when there is no exit code: refused, cut mid-way, timed out, or the sink failed.
 */
export function execInPod(
  endpoint: ExecEndpoint,
  params: ExecParams,
  timers: ExecTimers = REAL_TIMERS,
): Promise<ExecResult> {
  const started = timers.now();
  const stderrLimit = params.stderrLimit ?? 64 * 1024;
  const url = execUrl(endpoint.server, { ...params, stdin: params.stdin !== undefined });
  return new Promise<ExecResult>((resolve, reject) => {
    const ws = new WebSocket(url, [EXEC_PROTOCOL], {
      ...endpoint.options,
      perMessageDeflate: false,
      maxPayload: 16 * 1024 * 1024,
      handshakeTimeout: Math.min(params.idleTimeoutMs ?? 60_000, 60_000),
    });
    let stdoutBytes = 0;
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    let status: ExecStatus | undefined;
    let closed = false;
    let settled = false;
    let watch: { cancel(): void } | undefined;
    let closeTimer: { cancel(): void } | undefined;
    let waitingForDrain = false;
    const sink = params.stdout;
    const stderrText = () => Buffer.concat(stderr).toString('utf8');
    const cleanup = () => {
      overall.cancel();
      watch?.cancel();
      closeTimer?.cancel();
      sink?.off('error', onSinkError);
      sink?.off('drain', onDrain);
    };
    const fail = (err: ExecError) => {
      if (settled) return;
      settled = true;
      cleanup();
      if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
      reject(err);
    };
    const finish = () => {
      if (settled || !status || !closed) return;
      settled = true;
      cleanup();
      const exitCode = exitCodeOf(status);
      if (exitCode === undefined) {
        reject(
          new ExecError(startFailure(status), status.message ?? 'the command could not be started', {
            status,
            stdoutBytes,
            stderr: stderrText(),
          }),
        );
        return;
      }
      resolve({ exitCode, status, stdoutBytes, stderr: stderrText(), durationMs: timers.now() - started });
    };
    const detail = () => ({ stdoutBytes, stderr: stderrText() });

    const overallMs = params.timeoutMs ?? 600_000;
    const overall = timers.set(
      () => fail(new ExecError('timeout', `the command did not finish within ${span(overallMs)}`, detail())),
      overallMs,
    );
    // Silence is watched by one timer that looks at when the last frame came, so a frame costs a clock read,
    // not a timer: a 1 GiB pull is 32,768 frames.
    const idleMs = params.idleTimeoutMs ?? 60_000;
    const notice = params.onSilence;
    let lastFrame = timers.now();
    let notices = 0;
    const armWatch = () => {
      const silent = timers.now() - lastFrame;
      let wait = idleMs - silent;
      if (notice) wait = Math.min(wait, notice.everyMs * (notices + 1) - silent);
      watch = timers.set(onWatch, Math.max(1, wait));
    };
    function onWatch(): void {
      if (settled) return;
      const silent = timers.now() - lastFrame;
      if (silent >= idleMs) {
        fail(new ExecError('timeout', `no data from the pod for ${span(idleMs)}`, detail()));
        return;
      }
      if (notice && silent >= notice.everyMs * (notices + 1)) {
        notices = Math.floor(silent / notice.everyMs);
        notice.notify(silent, idleMs);
      }
      armWatch();
    }
    const touch = () => {
      lastFrame = timers.now();
      notices = 0;
    };
    function onSinkError(err: Error): void {
      fail(new ExecError('sink', `could not store the output: ${err.message}`, { ...detail(), cause: err }));
    }
    function onDrain(): void {
      waitingForDrain = false;
      if (!settled) ws.resume();
    }
    sink?.on('error', onSinkError);
    armWatch();

    ws.on('unexpected-response', (_req, res) => {
      void readBody(res).then(
        (body) => {
          const parsed = statusFromBody(body);
          const httpStatus = res.statusCode ?? 0;
          fail(
            new ExecError(
              handshakeFailure(httpStatus),
              parsed?.message ?? `HTTP ${httpStatus} ${body.slice(0, 200)}`,
              {
                httpStatus,
                ...(parsed ? { status: parsed } : {}),
              },
            ),
          );
        },
        (err: unknown) =>
          fail(new ExecError('unavailable', `the exec request failed: ${String(err)}`, { cause: err })),
      );
    });
    ws.on('error', (err) => {
      fail(
        new ExecError(
          closed || status ? 'cut' : 'unavailable',
          `connection to the API server failed: ${err.message}`,
          {
            ...detail(),
            cause: err,
          },
        ),
      );
    });
    ws.on('open', () => {
      touch();
      if (ws.protocol !== EXEC_PROTOCOL) {
        fail(
          new ExecError(
            'protocol',
            `the API server answered with protocol "${ws.protocol}", not ${EXEC_PROTOCOL}`,
          ),
        );
        return;
      }
      if (params.stdin)
        pumpStdin(ws, params.stdin, (err) => fail(new ExecError('sink', `stdin failed: ${err.message}`)));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      touch();
      const frame = isBinary ? data : Buffer.from(data);
      if (frame.length === 0) return;
      const channel = frame[0];
      const payload = frame.subarray(1);
      if (payload.length === 0) return; // the server opens each channel with an empty frame
      if (channel === STDOUT) {
        stdoutBytes += payload.length;
        if (sink && !sink.write(payload) && !waitingForDrain) {
          waitingForDrain = true;
          ws.pause();
          sink.once('drain', onDrain);
        }
      } else if (channel === STDERR) {
        if (stderrBytes < stderrLimit) stderr.push(payload.subarray(0, stderrLimit - stderrBytes));
        stderrBytes += payload.length;
      } else if (channel === STATUS) {
        const parsed = statusFromBody(payload.toString('utf8'));
        if (!parsed) {
          fail(new ExecError('protocol', 'the status frame is not a JSON Status', detail()));
          return;
        }
        status = parsed;
        // The server closes right after the status; if it does not, we close after a grace period.
        closeTimer = timers.set(() => {
          closed = true;
          ws.terminate();
          finish();
        }, params.closeTimeoutMs ?? 5000);
        finish();
      }
    });
    ws.on('close', (code, reason) => {
      closed = true;
      if (status) {
        finish();
        return;
      }
      const why = reason.length > 0 ? `: ${reason.toString('utf8')}` : '';
      fail(
        new ExecError(
          'cut',
          `the stream closed before the command's exit status arrived (close code ${code}${why}); the pod may be gone or the connection dropped`,
          detail(),
        ),
      );
    });
  });
}

/** Sends stdin on channel 0, waiting whenever the socket's send buffer is full. */
function pumpStdin(ws: WebSocket, stdin: Readable, onError: (err: Error) => void): void {
  stdin.on('data', (chunk: Buffer | string) => {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const frame = Buffer.allocUnsafe(data.length + 1);
    frame[0] = STDIN;
    data.copy(frame, 1);
    ws.send(frame, { binary: true }, (err) => {
      if (err) onError(err);
      else if (stdin.isPaused() && ws.bufferedAmount < STDIN_HIGH_WATER) stdin.resume();
    });
    if (ws.bufferedAmount >= STDIN_HIGH_WATER) stdin.pause();
  });
  stdin.on('error', onError);
}
