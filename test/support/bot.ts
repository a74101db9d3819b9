// Builds a real Bot (real flows, real store) around a recording chat, and drives commands and buttons as users.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig, type Config } from '../../src/config.ts';
import type { Adapters } from '../../src/deps.ts';
import type { BreakerOptions } from '../../flows/breaker/evaluator.ts';
import type { MirrorOptions } from '../../flows/pagerduty/mirror.ts';
import type { Bot } from '../../src/bot.ts';
import type { Message } from '../../src/chat/chat.ts';
import { createLogger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createRedactor } from '../../src/redact.ts';
import { buildBot, type BuildOptions } from '../../src/main.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { Store } from '../../src/store/store.ts';
import { RecordingChat } from './recording-chat.ts';

export const CHANNEL = 'C0INCIDENT';

/** The users of every test: alice and carol are responders, bob and dave approvers, mallory nobody. */
export function testConfig(extra: Record<string, unknown> = {}): Config {
  const { services, access, ...rest } = extra as {
    services?: Record<string, unknown>;
    access?: Record<string, unknown>;
  };
  return parseConfig(
    {
      access: {
        responders: ['@sre-oncall'],
        approvers: ['@sre-leads'],
        groups: { 'sre-oncall': ['U0ALICE', 'U0CAROL'], 'sre-leads': ['U0BOB', 'U0DAVE'] },
        ...access,
      },
      services: services ?? { payments: {}, checkout: {} },
      // Each bot its own evidence directory: what one test keeps (dumps, timeline anchors) never meets another.
      evidence: { dir: mkdtempSync(join(tmpdir(), 'cs-test-evidence-')) },
      ...rest,
    },
    'test config',
  );
}

export const USERS = {
  alice: { id: 'U0ALICE', name: 'alice' },
  bob: { id: 'U0BOB', name: 'bob' },
  carol: { id: 'U0CAROL', name: 'carol' },
  dave: { id: 'U0DAVE', name: 'dave' },
  mallory: { id: 'U0MALLORY', name: 'mallory' },
} as const;

export type UserName = keyof typeof USERS;

/** A logger that keeps its lines, so tests can assert that no secret reached them. */
export function memoryLogger(secrets: string[] = [], level = 'debug') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const redactor = createRedactor(secrets);
  return { log: createLogger(redactor, { level, destination }), lines, redactor };
}

export interface TestBot {
  bot: Bot;
  chat: RecordingChat;
  store: Store;
  replies: { user: string; message: Message }[];
  logLines: string[];
  command(user: UserName, command: string, text?: string, channel?: string): Promise<Message[]>;
  click(user: UserName, actionId: string, value: string, channel?: string): Promise<Message[]>;
}

export function makeTestBot(
  opts: {
    config?: Config;
    store?: Store;
    adapters?: Partial<Adapters>;
    now?: () => Date;
    instanceId?: string;
    env?: NodeJS.ProcessEnv;
    pagerdutyMirror?: Partial<MirrorOptions>;
    breaker?: Partial<BreakerOptions>;
    actionLease?: { ttlMs: number; renewMs?: number };
    chat?: RecordingChat;
    drills?: BuildOptions['drills'];
  } = {},
): TestBot {
  const chat = opts.chat ?? new RecordingChat();
  const store = opts.store ?? new MemoryStore();
  const { log, lines, redactor } = memoryLogger();
  const bot = buildBot({
    config: opts.config ?? testConfig(),
    store,
    chat,
    log,
    redactor,
    metrics: createMetrics({ defaults: false }),
    editIntervalMs: 0,
    env: opts.env ?? {},
    ...(opts.adapters ? { adapters: opts.adapters } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.instanceId ? { instanceId: opts.instanceId } : {}),
    ...(opts.pagerdutyMirror ? { pagerdutyMirror: opts.pagerdutyMirror } : {}),
    ...(opts.breaker ? { breaker: opts.breaker } : {}),
    ...(opts.actionLease ? { actionLease: opts.actionLease } : {}),
    ...(opts.drills ? { drills: opts.drills } : {}),
  });
  const replies: TestBot['replies'] = [];
  return {
    bot,
    chat,
    store,
    replies,
    logLines: lines,
    async command(user, command, text = '', channel = CHANNEL) {
      const mine: Message[] = [];
      await bot.handleCommand({
        command,
        text,
        user: USERS[user],
        channel,
        respond: async (message) => {
          mine.push(message);
          replies.push({ user, message });
        },
      });
      await bot.idle();
      return mine;
    },
    async click(user, actionId, value, channel = CHANNEL) {
      const mine: Message[] = [];
      // Pressed as a person would: on the latest card showing that button, with the value the button carries.
      const button = buttonOnCard(chat, actionId, value);
      await bot.handleButton({
        actionId,
        value: button?.value ?? value,
        ...(button ? { message: button.ref } : {}),
        user: USERS[user],
        channel,
        respond: async (message) => {
          mine.push(message);
          replies.push({ user, message });
        },
      });
      await bot.idle();
      return mine;
    },
  };
}

/**
 * The button `actionId` whose value is `value` or `value.<binding>` on the latest message showing it, and that
 * message; undefined when no message shows it.
 */
export function buttonOnCard(
  chat: RecordingChat,
  actionId: string,
  value: string,
): { value: string; ref: { channel: string; ts: string } } | undefined {
  for (const sent of [...chat.sent].reverse()) {
    if ((sent.kind !== 'post' && sent.kind !== 'update') || !sent.ts || !sent.message) continue;
    for (const block of sent.message.blocks ?? []) {
      const elements = (block as { elements?: { action_id?: string; value?: string }[] }).elements ?? [];
      for (const element of elements) {
        if (element.action_id !== actionId || typeof element.value !== 'string') continue;
        if (element.value === value || element.value.startsWith(`${value}.`)) {
          return { value: element.value, ref: { channel: sent.channel, ts: sent.ts } };
        }
      }
    }
  }
  return undefined;
}

/** All text of a message, blocks included, for assertions. */
export function textOf(message: Message | undefined): string {
  if (!message) return '';
  return `${message.text}\n${JSON.stringify(message.blocks ?? [])}`;
}
