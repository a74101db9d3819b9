// The Chat port in a terminal: messages are printed, buttons numbered, files written to disk.
import { createReadStream, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type {
  Chat,
  ChatChannel,
  ChatMessage,
  ChatUser,
  FileUpload,
  Message,
  MessageRef,
  UploadedFile,
  View,
} from '../chat.ts';
import { plain, renderMessage } from './render.ts';

interface StoredMessage {
  channel: string;
  number: number;
  text: string;
  user?: string;
  threadTs?: string;
}

export interface ButtonTarget {
  actionId: string;
  value: string;
  channel: string;
  ts: string;
}

export class ConsoleChat implements Chat {
  #out: Writable;
  #filesDir: string;
  #messages = new Map<string, StoredMessage>();
  #buttons = new Map<number, ButtonTarget>();
  #buttonByKey = new Map<string, number>();
  #seq = 0;
  #rendered = new Map<string, string>();

  constructor(opts: { out: Writable; filesDir: string }) {
    this.#out = opts.out;
    this.#filesDir = resolve(opts.filesDir);
  }

  #print(text: string): void {
    this.#out.write(`${text}\n`);
  }

  #nextTs(): { ts: string; number: number } {
    this.#seq += 1;
    const seconds = Math.floor(Date.now() / 1000);
    return { ts: `${seconds}.${String(this.#seq).padStart(6, '0')}`, number: this.#seq };
  }

  #render(message: Message, ref: MessageRef): string {
    return renderMessage(message, (actionId, value) => {
      const key = `${actionId}\u0000${value}`;
      let n = this.#buttonByKey.get(key);
      if (n === undefined) {
        n = this.#buttons.size + 1;
        this.#buttonByKey.set(key, n);
      }
      this.#buttons.set(n, { actionId, value, channel: ref.channel, ts: ref.ts });
      return n;
    });
  }

  button(n: number): ButtonTarget | undefined {
    return this.#buttons.get(n);
  }

  /** The newest button with this action id (the latest approval card's Approve), with its number. */
  latestButton(actionId: string): { n: number; target: ButtonTarget } | undefined {
    let found: { n: number; target: ButtonTarget } | undefined;
    for (const [n, target] of this.#buttons)
      if (target.actionId === actionId && (!found || n > found.n)) found = { n, target };
    return found;
  }

  /** The ts of message number n (as printed in brackets), for /react. */
  messageTs(n: number): MessageRef | undefined {
    for (const [ts, m] of this.#messages) if (m.number === n) return { channel: m.channel, ts };
    return undefined;
  }

  /** A line a person typed that is not a command: it becomes a channel message, so it can be pinned. */
  say(channel: string, user: string, text: string): MessageRef {
    const { ts, number } = this.#nextTs();
    this.#messages.set(ts, { channel, number, text, user });
    this.#print(`[${number}] ${user}: ${text}`);
    return { channel, ts };
  }

  async post(channel: string, message: Message, opts: { threadTs?: string } = {}): Promise<MessageRef> {
    const { ts, number } = this.#nextTs();
    const ref = { channel, ts };
    this.#messages.set(ts, {
      channel,
      number,
      text: message.text,
      ...(opts.threadTs ? { threadTs: opts.threadTs } : {}),
    });
    const where = opts.threadTs ? `thread of [${this.#messages.get(opts.threadTs)?.number ?? '?'}]` : channel;
    const text = this.#render(message, ref);
    this.#rendered.set(ts, text);
    this.#print(`\n── [${number}] cloud-safety in ${where} ──\n${text}`);
    return ref;
  }

  async update(ref: MessageRef, message: Message): Promise<void> {
    const stored = this.#messages.get(ref.ts);
    if (stored) stored.text = message.text;
    const text = this.#render(message, ref);
    const before = this.#rendered.get(ref.ts);
    this.#rendered.set(ref.ts, text);
    if (before === text) return;
    // Slack edits in place; the console prints only the lines that changed, unless most of them did.
    const old = new Set((before ?? '').split('\n'));
    const changed = text.split('\n').filter((line) => !old.has(line));
    const full = before === undefined || changed.length > text.split('\n').length / 2;
    this.#print(`\n── [${stored?.number ?? '?'}] edited ──\n${full ? text : changed.join('\n')}`);
  }

  async postEphemeral(channel: string, user: string, message: Message): Promise<void> {
    this.#print(`\n── only ${user} sees this ──\n${this.#render(message, { channel, ts: 'ephemeral' })}`);
  }

  /** What a command's reply looks like in the console. */
  reply(user: string, channel: string, message: Message): void {
    this.#print(`\n── only ${user} sees this ──\n${this.#render(message, { channel, ts: 'ephemeral' })}`);
  }

  async pin(ref: MessageRef): Promise<void> {
    this.#print(`📌 message [${this.#messages.get(ref.ts)?.number ?? '?'}] pinned to ${ref.channel}`);
  }

  async permalink(ref: MessageRef): Promise<string> {
    return `console://${ref.channel.replace(/^#/, '')}/p${ref.ts.replace('.', '')}`;
  }

  async fetchMessage(ref: MessageRef): Promise<ChatMessage | null> {
    const stored = this.#messages.get(ref.ts);
    if (!stored) return null;
    return { ts: ref.ts, text: plain(stored.text), ...(stored.user ? { user: stored.user } : {}) };
  }

  async upload(channel: string, file: FileUpload, opts: { threadTs?: string } = {}): Promise<UploadedFile> {
    mkdirSync(this.#filesDir, { recursive: true });
    const path = join(this.#filesDir, file.filename.replace(/[^A-Za-z0-9._-]/g, '_'));
    if (typeof file.content === 'string')
      await pipeline(createReadStream(file.content), createWriteStream(path));
    else writeFileSync(path, file.content);
    const where = opts.threadTs ? ` (thread of [${this.#messages.get(opts.threadTs)?.number ?? '?'}])` : '';
    this.#print(
      `📎 ${file.title ?? file.filename} in ${channel}${where}: ${path}${file.comment ? `\n   ${plain(file.comment)}` : ''}`,
    );
    return { path };
  }

  #channels = new Set<string>();

  /** Channels are simulated: a name, printed, that `/channel` switches to. */
  async createChannel(name: string, opts: { private: boolean }): Promise<ChatChannel | 'name_taken'> {
    const id = `#${name}`;
    if (this.#channels.has(id)) return 'name_taken';
    this.#channels.add(id);
    this.#print(`# created ${opts.private ? 'private ' : ''}channel ${id} (\`/channel ${id}\` to go there)`);
    return { id, name };
  }

  async invite(channel: string, users: string[]): Promise<void> {
    if (users.length > 0) this.#print(`# invited ${users.join(', ')} to ${channel}`);
  }

  /** A modal the console session asks as prompts, one field a line (taken by the session after the command). */
  pendingForm: View | undefined;

  async openView(_triggerId: string, view: View): Promise<void> {
    this.pendingForm = view;
  }

  /** The App Home tab, printed when it changes. */
  async publishHome(user: string, view: View): Promise<void> {
    const text = this.#render(
      { text: `App Home of ${user}`, blocks: view.blocks },
      { channel: 'home', ts: 'home' },
    );
    if (this.#rendered.get(`home:${user}`) === text) return;
    this.#rendered.set(`home:${user}`, text);
    this.#print(`\n── App Home of ${user} ──\n${text}`);
  }

  /** Console people are plain names (`/as bob`), so any well-formed @name is someone. */
  async findUser(mention: string): Promise<ChatUser | null> {
    // `@bob` as typed, or `<@bob>` as a form's selected user is written for the Slack mention format.
    const match = /^(?:<@([a-z0-9._-]{1,40})>|@?([a-z0-9._-]{1,40}))$/i.exec(mention.trim());
    const name = match?.[1] ?? match?.[2];
    return name ? { id: name, name } : null;
  }

  async groupMembers(): Promise<string[] | undefined> {
    // The console has no Slack workspace: groups come from access.groups in the config.
    return undefined;
  }
}
