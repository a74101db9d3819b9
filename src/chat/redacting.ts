// A Chat decorator that scrubs secrets from every message before it leaves the process.
import type { Redactor } from '../redact.ts';
import type { Chat, Message } from './chat.ts';

export function redactMessage(redactor: Redactor, message: Message): Message {
  return redactor.value(message);
}

export function redactingChat(chat: Chat, redactor: Redactor): Chat {
  return {
    post: (channel, message, opts) => chat.post(channel, redactMessage(redactor, message), opts),
    update: (ref, message) => chat.update(ref, redactMessage(redactor, message)),
    postEphemeral: (channel, user, message) =>
      chat.postEphemeral(channel, user, redactMessage(redactor, message)),
    pin: (ref) => chat.pin(ref),
    permalink: (ref) => chat.permalink(ref),
    fetchMessage: (ref) => chat.fetchMessage(ref),
    upload: (channel, file, opts) =>
      chat.upload(
        channel,
        {
          ...file,
          ...(file.title ? { title: redactor.text(file.title) } : {}),
          ...(file.comment ? { comment: redactor.text(file.comment) } : {}),
        },
        opts,
      ),
    findUser: (mention) => chat.findUser(mention),
    createChannel: (name, opts) => chat.createChannel(name, opts),
    invite: (channel, users) => chat.invite(channel, users),
    openView: (triggerId, view) => chat.openView(triggerId, view),
    publishHome: (user, view) => chat.publishHome(user, view),
    groupMembers: (handle) => chat.groupMembers(handle),
  };
}
