// A Chat that records what flows sent, for tests that don't need the Slack wire.
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
} from '../../src/chat/chat.ts';

export interface Sent {
  kind: 'post' | 'update' | 'ephemeral' | 'pin' | 'upload';
  channel: string;
  ts?: string;
  message?: Message;
  file?: FileUpload;
  threadTs?: string;
}

export class RecordingChat implements Chat {
  sent: Sent[] = [];
  messages = new Map<string, { channel: string; text: string; user?: string }>();
  groups: Record<string, string[]> = {};
  #seq = 0;

  #ts(): string {
    this.#seq += 1;
    return `1700000000.${String(this.#seq).padStart(6, '0')}`;
  }

  /** The current content of a message, after every edit. */
  latest(ref: MessageRef): Message | undefined {
    const edits = this.sent.filter((s) => (s.kind === 'post' || s.kind === 'update') && s.ts === ref.ts);
    return edits[edits.length - 1]?.message;
  }

  texts(kind?: Sent['kind']): string[] {
    return this.sent
      .filter((s) => !kind || s.kind === kind)
      .map((s) => s.message?.text ?? s.file?.filename ?? '');
  }

  async post(channel: string, message: Message, opts: { threadTs?: string } = {}): Promise<MessageRef> {
    const ts = this.#ts();
    this.messages.set(ts, { channel, text: message.text });
    this.sent.push({
      kind: 'post',
      channel,
      ts,
      message,
      ...(opts.threadTs ? { threadTs: opts.threadTs } : {}),
    });
    return { channel, ts };
  }

  async update(ref: MessageRef, message: Message): Promise<void> {
    // Like Slack, reading the message back returns its latest text.
    const held = this.messages.get(ref.ts);
    if (held) this.messages.set(ref.ts, { ...held, text: message.text });
    this.sent.push({ kind: 'update', channel: ref.channel, ts: ref.ts, message });
  }

  async postEphemeral(channel: string, _user: string, message: Message): Promise<void> {
    this.sent.push({ kind: 'ephemeral', channel, message });
  }

  async pin(ref: MessageRef): Promise<void> {
    this.sent.push({ kind: 'pin', channel: ref.channel, ts: ref.ts });
  }

  async permalink(ref: MessageRef): Promise<string> {
    return `https://example.slack.com/archives/${ref.channel}/p${ref.ts.replace('.', '')}`;
  }

  async fetchMessage(ref: MessageRef): Promise<ChatMessage | null> {
    const m = this.messages.get(ref.ts);
    return m ? { ts: ref.ts, text: m.text, ...(m.user ? { user: m.user } : {}) } : null;
  }

  /** A message a person wrote in the channel. */
  say(channel: string, user: string, text: string): MessageRef {
    const ts = this.#ts();
    this.messages.set(ts, { channel, text, user });
    return { channel, ts };
  }

  async upload(channel: string, file: FileUpload, opts: { threadTs?: string } = {}): Promise<UploadedFile> {
    this.sent.push({ kind: 'upload', channel, file, ...(opts.threadTs ? { threadTs: opts.threadTs } : {}) });
    return { permalink: `https://example.slack.com/files/U0/F${this.#seq}/${file.filename}` };
  }

  /** The workspace's people by id; tests name them as Slack sends them, `<@U0BOB|bob>`. */
  users: Record<string, string> = {
    U0ALICE: 'alice',
    U0BOB: 'bob',
    U0CAROL: 'carol',
    U0DAVE: 'dave',
    U0MALLORY: 'mallory',
  };

  async findUser(mention: string): Promise<ChatUser | null> {
    const id = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(mention.trim())?.[1];
    const name = id ? this.users[id] : undefined;
    return id && name ? { id, name } : null;
  }

  /** Channels that exist (by name) and who was invited where. */
  channels = new Map<string, ChatChannel & { private: boolean; members: string[] }>();

  async createChannel(name: string, opts: { private: boolean }): Promise<ChatChannel | 'name_taken'> {
    if ([...this.channels.values()].some((c) => c.name === name)) return 'name_taken';
    const id = `C0NEW${this.channels.size + 1}`;
    this.channels.set(id, { id, name, private: opts.private, members: [] });
    return { id, name };
  }

  async invite(channel: string, users: string[]): Promise<void> {
    const c = this.channels.get(channel);
    if (!c) throw new Error(`channel_not_found: ${channel}`);
    for (const u of users) if (!c.members.includes(u)) c.members.push(u);
  }

  views: { triggerId: string; view: View }[] = [];
  homes = new Map<string, View>();

  async openView(triggerId: string, view: View): Promise<void> {
    this.views.push({ triggerId, view });
  }

  async publishHome(user: string, view: View): Promise<void> {
    this.homes.set(user, view);
  }

  async groupMembers(handle: string): Promise<string[] | undefined> {
    return this.groups[handle];
  }
}
