// Acks a signed slash command as soon as its signature checks out, before Bolt's processing of it.
//
// Slack waits for the ack of a slash command and shows an error after three seconds; the ack carries nothing (the
// reply goes to response_url). Through Bolt's HTTPReceiver the ack left only after its parse, its signature check
// (two extra HMACs in `tsscmp`), authorization, every listener's matching middleware and the listener's `ack()`:
// under a burst, each request's ack queued behind all that for the requests before it. Here the signature is checked
// first, as Bolt does, then the 200 leaves, then the command goes to the same handler Bolt's listener calls (in
// app.ts); Bolt's per-request context, authorization and listener matching, which a command does not use, are
// skipped. Every other request (interactivity, events, health routes) still goes through Bolt's receiver unchanged.
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse } from 'node:querystring';
import type bolt from '@slack/bolt';
import type { Logger } from '../../log.ts';

/** Slack's own limit on a request's age; Bolt's too (and ours for stamps from the future, in app.ts). */
const MAX_SKEW_SEC = 5 * 60;
/** Bolt's default limit for a request body (4 MB); a slash command's form is a few kilobytes. */
const BODY_LIMIT = 4 * 1024 * 1024;
const SIGNATURE = /^v0=([0-9a-f]{64})$/;

/** The fields of Slack's slash-command form the bot reads (a subset of Bolt's SlashCommand). */
export interface SlashCommandFields {
  command: string;
  text: string;
  user_id: string;
  user_name: string;
  channel_id: string;
  response_url?: string;
  trigger_id?: string;
}

export interface CommandAckOptions {
  signingSecret: string;
  /** The endpoint Slack posts to (Bolt's `endpoints`). */
  path: string;
  log: Logger;
  /** Called once the ack has left, with the seconds since the request arrived. */
  acked(seconds: number): void;
  /** Runs an acked command (the work after the ack). */
  dispatch(command: SlashCommandFields): void;
}

type Receiver = InstanceType<typeof bolt.HTTPReceiver>;

/** Why a signed request is refused, or undefined when its signature and timestamp check out. */
export function signatureProblem(
  key: KeyObject,
  body: Buffer,
  timestampHeader: string | string[] | undefined,
  signatureHeader: string | string[] | undefined,
  nowSec: number,
): string | undefined {
  const stamp = typeof timestampHeader === 'string' ? Number(timestampHeader) : Number.NaN;
  if (!Number.isInteger(stamp)) return 'x-slack-request-timestamp is missing or not a number';
  if (Math.abs(nowSec - stamp) > MAX_SKEW_SEC)
    return 'x-slack-request-timestamp differs from our clock by more than 5 minutes';
  const given = typeof signatureHeader === 'string' ? SIGNATURE.exec(signatureHeader)?.[1] : undefined;
  if (!given) return 'x-slack-signature is missing or not v0=<64 hex digits>';
  const expected = createHmac('sha256', key).update(`v0:${stamp}:`).update(body).digest();
  return timingSafeEqual(Buffer.from(given, 'hex'), expected) ? undefined : 'signature mismatch';
}

/** The form's fields when it is a slash command (not an ssl_check, not an interactivity payload). */
function slashCommand(body: Buffer): SlashCommandFields | undefined {
  const form = parse(body.toString());
  if (typeof form.command !== 'string' || form.ssl_check !== undefined || form.payload !== undefined)
    return undefined;
  const field = (name: string) => {
    const value = form[name];
    return typeof value === 'string' ? value : value?.[0];
  };
  const responseUrl = field('response_url');
  const triggerId = field('trigger_id');
  return {
    command: form.command,
    text: field('text') ?? '',
    user_id: field('user_id') ?? '',
    user_name: field('user_name') ?? '',
    channel_id: field('channel_id') ?? '',
    ...(responseUrl ? { response_url: responseUrl } : {}),
    ...(triggerId ? { trigger_id: triggerId } : {}),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= BODY_LIMIT) chunks.push(chunk);
    });
    req.on('end', () => resolve(size <= BODY_LIMIT ? Buffer.concat(chunks, size) : undefined));
    req.on('error', reject);
  });
}

/** Makes `receiver` ack signed slash commands itself, then `dispatch` them; everything else goes to Bolt. */
export function ackCommandsFirst(receiver: Receiver, opts: CommandAckOptions): void {
  const inner = receiver.requestListener;
  const key = createSecretKey(Buffer.from(opts.signingSecret));
  receiver.requestListener = (req, res) => {
    const form = req.method === 'POST' && req.headers['content-type'] === 'application/x-www-form-urlencoded';
    if (!form || (req.url ?? '').split('?')[0] !== opts.path) {
      inner(req, res);
      return;
    }
    const receivedAt = performance.now();
    readBody(req).then(
      (body) => {
        if (!body) {
          opts.log.warn({ path: req.url }, 'refused a request body over the size limit');
          res.writeHead(413).end();
          return;
        }
        const command = slashCommand(body);
        if (!command) {
          // Bolt reads a body it is handed in `rawBody` instead of the (already read) stream.
          Object.assign(req, { rawBody: body });
          inner(req, res);
          return;
        }
        handle(req, res, body, command, receivedAt);
      },
      (err: unknown) => {
        opts.log.warn({ err, path: req.url }, 'could not read a request body');
        if (!res.headersSent) res.writeHead(400).end();
      },
    );
  };

  function handle(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    command: SlashCommandFields,
    receivedAt: number,
  ): void {
    const problem = signatureProblem(
      key,
      body,
      req.headers['x-slack-request-timestamp'],
      req.headers['x-slack-signature'],
      Math.floor(Date.now() / 1000),
    );
    if (problem) {
      opts.log.warn({ path: req.url, problem }, 'refused a slash command whose signature does not check out');
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200).end();
    opts.acked((performance.now() - receivedAt) / 1000);
    opts.dispatch(command);
  }
}
