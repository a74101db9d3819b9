// The client side of a Kubernetes channel WebSocket (v4.channel.k8s.io): the opening handshake through node:http(s),
// then frames read straight off the socket (RFC 6455 §5).
//
// Why not the `ws` client: it hands over each message as one contiguous Buffer, so every 32 KiB stdout frame that
// straddles two socket reads (most of them) was copied into a fresh buffer, and 1 GiB of heap dump became 1.5 GiB of
// short-lived buffers and a full garbage collection every few hundred milliseconds. Here a payload is handed on in
// the pieces the socket delivered it in, as views of the socket's own buffers.
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const CONTINUATION = 0x0;
const TEXT = 0x1;
const BINARY = 0x2;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;

export interface ChannelSocketEvents {
  open: [];
  /** The server answered the upgrade with something other than 101 (403, 404, …). */
  'unexpected-response': [req: ClientRequest, res: IncomingMessage];
  /** The handshake failed, or the server broke the protocol. */
  error: [err: Error];
  /** A piece of a message's payload on `channel` (the message's first byte), in order. */
  data: [channel: number, piece: Buffer];
  /** The message on `channel` is complete. */
  'message-end': [channel: number];
  /** Once; 1006 when the connection ended without a close frame. */
  close: [code: number, reason: string];
}

export class ChannelSocket extends EventEmitter<ChannelSocketEvents> {
  /** The subprotocol the server chose ('' before the handshake). */
  protocol = '';
  #req: ClientRequest;
  #socket: Duplex | undefined;
  #maxPayload: number;
  #head = Buffer.alloc(14);
  #headLength = 0;
  #opcode = 0;
  #fin = false;
  /** Payload bytes of the current frame still to come; -1 while reading a header. */
  #remaining = -1;
  /** The current message's channel; -1 until its first payload byte, undefined outside a message. */
  #channel: number | undefined;
  #control: Buffer[] = [];
  #closeCode: number | undefined;
  #closeReason = '';
  #closeSent = false;
  #closed = false;

  constructor(
    url: string,
    protocol: string,
    options: RequestOptions & { maxPayload: number; handshakeTimeoutMs: number },
  ) {
    super();
    this.#maxPayload = options.maxPayload;
    const target = new URL(url);
    const tls = target.protocol === 'wss:';
    const key = randomBytes(16).toString('base64');
    const { maxPayload: _max, handshakeTimeoutMs, ...rest } = options;
    const req = (tls ? httpsRequest : httpRequest)(target.href.replace(/^ws/, 'http'), {
      ...rest,
      method: 'GET',
      headers: {
        ...rest.headers,
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': key,
        'Sec-WebSocket-Protocol': protocol,
      },
    });
    req.setTimeout(handshakeTimeoutMs, () => req.destroy(new Error('the opening handshake timed out')));
    req.on('error', (err) => this.emit('error', err));
    req.on('response', (res) => this.emit('unexpected-response', req, res));
    req.on('upgrade', (res, socket, head) => {
      req.setTimeout(0);
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      if (res.headers['sec-websocket-accept'] !== accept) {
        socket.destroy();
        this.emit('error', new Error('the server answered the upgrade with a wrong Sec-WebSocket-Accept'));
        return;
      }
      this.protocol = String(res.headers['sec-websocket-protocol'] ?? '');
      this.#attach(socket, head);
    });
    req.end();
    this.#req = req;
  }

  #attach(socket: Duplex, head: Buffer): void {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy()); // reported as a close without a close frame (1006)
    socket.on('close', () => {
      if (this.#closed) return;
      this.#closed = true;
      this.emit('close', this.#closeCode ?? 1006, this.#closeReason);
    });
    this.emit('open');
    if (head.length > 0) this.#read(head);
  }

  /** Bytes written to the socket and not yet sent. */
  get bufferedAmount(): number {
    return this.#socket?.writableLength ?? 0;
  }

  pause(): void {
    this.#socket?.pause();
  }

  resume(): void {
    this.#socket?.resume();
  }

  /** Sends `data` as one binary message on `channel`. */
  send(channel: number, data: Buffer, callback?: (err?: Error | null) => void): void {
    this.#send(BINARY, Buffer.concat([Buffer.from([channel]), data]), callback);
  }

  /** Starts the closing handshake; the socket ends once the server answers. */
  close(code = 1000): void {
    if (this.#closeSent || !this.#socket) return;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code);
    this.#closeSent = true;
    this.#send(CLOSE, payload);
  }

  /** Drops the connection at once. */
  terminate(): void {
    if (this.#socket) this.#socket.destroy();
    else this.#req.destroy();
  }

  /** Client frames are masked (RFC 6455 §5.3). */
  #send(opcode: number, payload: Buffer, callback?: (err?: Error | null) => void): void {
    const socket = this.#socket;
    if (!socket || socket.destroyed) {
      callback?.(new Error('the WebSocket is not open'));
      return;
    }
    const ext = payload.length < 126 ? 0 : payload.length < 65536 ? 2 : 8;
    const frame = Buffer.allocUnsafe(2 + ext + 4 + payload.length);
    frame[0] = 0x80 | opcode;
    frame[1] = 0x80 | (ext === 0 ? payload.length : ext === 2 ? 126 : 127);
    if (ext === 2) frame.writeUInt16BE(payload.length, 2);
    if (ext === 8) frame.writeBigUInt64BE(BigInt(payload.length), 2);
    const mask = randomFillSync(frame, 2 + ext, 4);
    for (let i = 0; i < payload.length; i++)
      frame[6 + ext + i] = (payload[i] ?? 0) ^ (mask[2 + ext + (i & 3)] ?? 0);
    socket.write(frame, callback);
  }

  #fail(message: string, code = 1002): void {
    if (this.#closed) return;
    this.emit('error', new Error(`the API server broke the WebSocket protocol: ${message}`));
    this.#closeCode = code;
    this.#socket?.destroy();
  }

  #read(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.#closed && this.#closeCode === undefined) {
      if (this.#remaining < 0) {
        at = this.#readHead(chunk, at);
        continue;
      }
      const n = Math.min(this.#remaining, chunk.length - at);
      this.#payload(chunk.subarray(at, at + n));
      at += n;
      this.#remaining -= n;
      if (this.#remaining === 0) this.#endFrame();
    }
  }

  /** Reads header bytes from chunk[at..]; returns where the payload starts. */
  #readHead(chunk: Buffer, at: number): number {
    const head = this.#head;
    const want = () => {
      if (this.#headLength < 2) return 2;
      const len7 = (head[1] ?? 0) & 0x7f;
      return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((head[1] ?? 0) & 0x80 ? 4 : 0);
    };
    let i = at;
    while (i < chunk.length && this.#headLength < want()) head[this.#headLength++] = chunk[i++] ?? 0;
    if (this.#headLength < want()) return i;
    const b0 = head[0] ?? 0;
    const b1 = head[1] ?? 0;
    this.#headLength = 0;
    this.#fin = (b0 & 0x80) !== 0;
    this.#opcode = b0 & 0x0f;
    const len7 = b1 & 0x7f;
    const length =
      len7 === 126 ? head.readUInt16BE(2) : len7 === 127 ? Number(head.readBigUInt64BE(2)) : len7;
    if (b0 & 0x70) this.#fail('a frame with RSV bits set (no extension was negotiated)');
    else if (b1 & 0x80) this.#fail('a masked frame from the server');
    else if (this.#opcode >= CLOSE && (!this.#fin || length > 125))
      this.#fail('a fragmented or long control frame');
    else if (this.#opcode > BINARY && this.#opcode < CLOSE) this.#fail(`opcode ${this.#opcode}`);
    else if (this.#opcode > PONG) this.#fail(`opcode ${this.#opcode}`);
    else if (this.#opcode === CONTINUATION && this.#channel === undefined)
      this.#fail('a continuation frame outside a message');
    else if ((this.#opcode === TEXT || this.#opcode === BINARY) && this.#channel !== undefined)
      this.#fail('a new message inside a fragmented one');
    else if (length > this.#maxPayload)
      this.#fail(`a ${length}-byte frame (at most ${this.#maxPayload})`, 1009);
    if (this.#closeCode !== undefined) return chunk.length;
    if (this.#opcode === TEXT || this.#opcode === BINARY) this.#channel = -1;
    this.#remaining = length;
    if (length === 0) this.#endFrame();
    return i;
  }

  #payload(piece: Buffer): void {
    if (this.#opcode >= CLOSE) {
      this.#control.push(piece);
      return;
    }
    let data = piece;
    if (this.#channel === -1 && data.length > 0) {
      this.#channel = data[0] ?? 0;
      data = data.subarray(1);
    }
    if (data.length > 0) this.emit('data', this.#channel ?? 0, data);
  }

  #endFrame(): void {
    this.#remaining = -1;
    if (this.#opcode < CLOSE) {
      if (!this.#fin) return;
      const channel = this.#channel;
      this.#channel = undefined;
      if (channel !== undefined && channel >= 0) this.emit('message-end', channel);
      return;
    }
    const payload = Buffer.concat(this.#control);
    this.#control = [];
    if (this.#opcode === PING) this.#send(PONG, payload);
    if (this.#opcode !== CLOSE) return;
    this.#closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    this.#closeReason = payload.subarray(2).toString('utf8');
    if (!this.#closeSent) {
      this.#closeSent = true;
      const echo = Buffer.alloc(payload.length >= 2 ? 2 : 0);
      if (payload.length >= 2) echo.writeUInt16BE(this.#closeCode);
      this.#send(CLOSE, echo);
    }
    this.#socket?.end();
  }
}
