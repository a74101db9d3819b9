// The Chat port: what flows need from Slack (or the console), in our own types.
import type { MessageRef } from '../incident.ts';

export type { MessageRef };

/** A Slack Block Kit block, as JSON. Built only in src/chat/blocks; rendered by Slack and the console. */
export interface Block {
  type: string;
  [key: string]: unknown;
}

export interface Message {
  /** Plain-text fallback: notifications, screen readers, and the console's first line. */
  text: string;
  blocks?: Block[];
}

export interface FileUpload {
  filename: string;
  title?: string;
  /** The bytes, or the path of a file on disk (large files are streamed, never read whole). */
  content: Buffer | string;
  /** A short note posted with the file. */
  comment?: string;
}

export interface UploadedFile {
  /** Slack's permalink, when uploaded to Slack. */
  permalink?: string;
  /** The local path, when the console wrote it to disk. */
  path?: string;
}

/** A Block Kit surface: a modal or the App Home tab. */
export interface View {
  type: 'modal' | 'home';
  blocks: Block[];
  /** Modals: the title (24 characters at most), the submit label, and what the submission is routed by. */
  title?: string;
  submit?: string;
  callbackId?: string;
  privateMetadata?: string;
}

/** A submitted modal, its input blocks read as block_id -> value (multi-selects as a list). */
export interface FormSubmission {
  callbackId: string;
  values: Record<string, string | string[] | undefined>;
  user: { id: string; name: string };
  privateMetadata: string;
}

export interface ChatChannel {
  id: string;
  name: string;
}

export interface ChatUser {
  id: string;
  name: string;
}

export interface ChatMessage {
  ts: string;
  user?: string;
  text: string;
  threadTs?: string;
}

export interface Chat {
  post(channel: string, message: Message, opts?: { threadTs?: string }): Promise<MessageRef>;
  update(ref: MessageRef, message: Message): Promise<void>;
  postEphemeral(channel: string, user: string, message: Message): Promise<void>;
  pin(ref: MessageRef): Promise<void>;
  permalink(ref: MessageRef): Promise<string | undefined>;
  /** Reads one message (for the pin reaction); null when it is gone or not visible. */
  fetchMessage(ref: MessageRef): Promise<ChatMessage | null>;
  upload(channel: string, file: FileUpload, opts?: { threadTs?: string }): Promise<UploadedFile>;
  /**
   * The person a command names: Slack sends `<@U123|bob>` (or a bare user id), the console `@bob`.
   * Null when the text names nobody in the workspace.
   */
  findUser(mention: string): Promise<ChatUser | null>;
  /** Creates a channel; 'name_taken' when one of that name exists (the caller picks another). */
  createChannel(name: string, opts: { private: boolean }): Promise<ChatChannel | 'name_taken'>;
  /** Invites people to a channel; people already in it are fine. */
  invite(channel: string, users: string[]): Promise<void>;
  /** Opens a modal for the person who just ran a command (Slack's trigger_id is valid for three seconds). */
  openView(triggerId: string, view: View): Promise<void>;
  /** Sets one person's App Home tab. */
  publishHome(user: string, view: View): Promise<void>;
  /** Members of a user group by handle (without @); undefined when the workspace has no such group. */
  groupMembers(handle: string): Promise<string[] | undefined>;
  /** The workspace member with this email (Slack users.lookupByEmail); null when there is none. */
  findUserByEmail?(email: string): Promise<ChatUser | null>;
  /** Drops cached group memberships (a group changed), where the transport keeps any. */
  forgetGroups?(): void;
}

/** A slash command as every transport hands it to the bot. */
export interface CommandInvocation {
  command: string;
  text: string;
  user: { id: string; name: string };
  channel: string;
  /** Slack's trigger_id, for opening a modal; absent in the console. */
  triggerId?: string;
  /** Sends a message only the invoking user sees. */
  respond(message: Message): Promise<void>;
}

/** A button press as every transport hands it to the bot. */
export interface ButtonPress {
  actionId: string;
  value: string;
  user: { id: string; name: string };
  channel: string;
  message?: MessageRef;
  respond(message: Message): Promise<void>;
}

/** A reaction added to a message. */
export interface ReactionAdded {
  reaction: string;
  user: { id: string; name: string };
  item: MessageRef;
  /** Slack's event_id, used to drop retried deliveries. */
  eventId?: string;
}

/**
 * A Chat that is `chat` except for `overrides`: the one way to wrap a transport (redaction, DRILL marks), so a
 * method added to the port is forwarded by every wrapper, optional ones included, instead of silently dropped.
 */
export function wrapChat(chat: Chat, overrides: Partial<Chat>): Chat {
  const forwarded: Chat = {
    post: (channel, message, opts) => chat.post(channel, message, opts),
    update: (ref, message) => chat.update(ref, message),
    postEphemeral: (channel, user, message) => chat.postEphemeral(channel, user, message),
    pin: (ref) => chat.pin(ref),
    permalink: (ref) => chat.permalink(ref),
    fetchMessage: (ref) => chat.fetchMessage(ref),
    upload: (channel, file, opts) => chat.upload(channel, file, opts),
    findUser: (mention) => chat.findUser(mention),
    createChannel: (name, opts) => chat.createChannel(name, opts),
    invite: (channel, users) => chat.invite(channel, users),
    openView: (triggerId, view) => chat.openView(triggerId, view),
    publishHome: (user, view) => chat.publishHome(user, view),
    groupMembers: (handle) => chat.groupMembers(handle),
    ...(chat.findUserByEmail ? { findUserByEmail: (email: string) => chat.findUserByEmail!(email) } : {}),
    ...(chat.forgetGroups ? { forgetGroups: () => chat.forgetGroups!() } : {}),
  };
  return { ...forwarded, ...overrides };
}
