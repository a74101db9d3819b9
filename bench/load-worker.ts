// Load generator, run as its own process so its CPU does not count against the server it measures.
// Usage: node bench/load-worker.ts <port> <stubUrl> <total> <concurrency> <secret> [channels]; prints JSON latencies
// (ms). With `channels`, request i is sent from channel C0BENCH<i mod channels> (each with an open incident).
import { createHmac, randomUUID } from 'node:crypto';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

const [port, stubUrl, totalText, concurrencyText, secret, channelsText] = process.argv.slice(2);
const channels = Number(channelsText ?? 0);
const total = Number(totalText);
const concurrency = Number(concurrencyText);
// Slack hands out a new response_url with every command and takes at most five replies on one. Numbering them from 0
// in every run handed the bot the same urls again and again: from the sixth run on, the bot (rightly) found them
// used up and replied through the Web API instead, a different and much costlier path than a burst of fresh commands.
const RUN = randomUUID();

function commandBody(i: number): string {
  return new URLSearchParams({
    team_id: 'T0TEAM',
    channel_id: channels > 0 ? `C0BENCH${i % channels}` : 'C0BENCH',
    user_id: i % 2 === 0 ? 'U0ALICE' : 'U0CAROL',
    user_name: i % 2 === 0 ? 'alice' : 'carol',
    command: '/incident',
    text: 'status',
    api_app_id: 'A0APP',
    response_url: `${stubUrl}/respond/${RUN}/${i}`,
    trigger_id: `${i}.1`,
  }).toString();
}

const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const latencies: number[] = [];
let errors = 0;
let next = 0;

async function worker(): Promise<void> {
  while (next < total) {
    const i = next++;
    const body = commandBody(i);
    const ts = Math.floor(Date.now() / 1000);
    const signature = `v0=${createHmac('sha256', secret ?? '')
      .update(`v0:${ts}:${body}`)
      .digest('hex')}`;
    const t0 = performance.now();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: Number(port),
          path: '/slack/events',
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': Buffer.byteLength(body),
            'x-slack-request-timestamp': String(ts),
            'x-slack-signature': signature,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    latencies.push(performance.now() - t0);
    if (status !== 200) errors++;
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
agent.destroy();
process.stdout.write(JSON.stringify({ latencies, seconds, errors }));
