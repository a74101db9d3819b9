// Posts a reply to a response_url over kept-alive connections. Bolt's `respond` opens a new client request per reply
// (axios, no shared agent); under a burst of commands that setup was the largest cost after the ack.
import http from 'node:http';
import https from 'node:https';

const AGENTS = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** Slack answered the response_url with a status other than 2xx (404 `used_url`/`expired_url` among them). */
export class ResponseUrlError extends Error {
  readonly response: { status: number };
  constructor(status: number, body: string) {
    super(`response_url answered ${status}${body ? `: ${body.slice(0, 100)}` : ''}`);
    this.name = 'ResponseUrlError';
    this.response = { status };
  }
}

/** POSTs `body` as JSON to `url`; resolves on 2xx, rejects with ResponseUrlError otherwise, or on a timeout. */
export function postResponseUrl(url: string, body: unknown, timeoutMs = 10_000): Promise<void> {
  const target = new URL(url);
  const agent = AGENTS[target.protocol as keyof typeof AGENTS];
  if (!agent) return Promise.reject(new Error(`response_url must be http(s), not ${target.protocol}`));
  const payload = JSON.stringify(body);
  const send = target.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: 'POST',
        agent,
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < 1000) text += chunk;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new ResponseUrlError(status, text));
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`response_url gave no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}
