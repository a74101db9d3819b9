// The console transport: reads lines (a terminal or a piped script) and drives the same Bot as Slack does.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Bot } from '../../bot.ts';
import { parseDuration } from '../../duration.ts';
import type { Message } from '../chat.ts';
import { APPROVE_ACTION } from '../blocks/approval.ts';
import type { ConsoleChat } from './chat.ts';
import { ConsoleForm } from './form.ts';
import { plain } from './render.ts';

export interface ConsoleOptions {
  input: Readable;
  out: Writable;
  chat: ConsoleChat;
  user: string;
  channel: string;
  interactive: boolean;
}

const CONSOLE_HELP = [
  'Console commands (besides every slash command, e.g. /incident help):',
  '  /as <user>            act as another person (to try two-person approval alone)',
  '  /click <n>            press button [n] (/click approve: Approve on the newest approval card)',
  '  /react <n> [emoji]    react to message [n] (default: the pin reaction)',
  '  /channel <name>       switch channel',
  '  /wait <duration>      pause, e.g. /wait 5s (for drills with timers)',
  '  /whoami               show the current user and channel',
  '  /quit                 leave',
  '  any other text        is posted as a chat message, which can then be pinned',
].join('\n');

export class ConsoleSession {
  #bot: Bot;
  #opts: ConsoleOptions;
  user: string;
  channel: string;
  /** A form being asked (the declare modal): the next lines answer its fields. */
  #form: ConsoleForm | undefined;

  constructor(bot: Bot, opts: ConsoleOptions) {
    this.#bot = bot;
    this.#opts = opts;
    this.user = opts.user;
    this.channel = opts.channel;
  }

  #print(text: string): void {
    this.#opts.out.write(`${text}\n`);
  }

  #respond(message: Message): Promise<void> {
    this.#opts.chat.reply(this.user, this.channel, message);
    return Promise.resolve();
  }

  /** Handles one line to completion, background work included, so a piped script is deterministic. */
  async handleLine(raw: string): Promise<'quit' | void> {
    const line = raw.trim();
    if (this.#form) return this.#answer(line);
    if (line === '' || line.startsWith('#')) return;
    if (!this.#opts.interactive) this.#print(`\n${this.user}@${this.channel}> ${line}`);
    const [word = '', ...rest] = line.split(/\s+/);
    const argument = rest.join(' ');
    switch (word) {
      case '/quit':
      case '/exit':
        return 'quit';
      case '/help':
        this.#print(CONSOLE_HELP);
        return;
      case '/whoami':
        this.#print(`You are ${this.user} in ${this.channel}.`);
        return;
      case '/as':
        if (!/^[A-Za-z0-9._-]{1,40}$/.test(argument)) {
          this.#print('Usage: /as <user>, e.g. /as bob (letters, digits, . _ -)');
          return;
        }
        this.user = argument;
        this.#print(`You are now ${this.user}.`);
        return;
      case '/channel':
        if (!/^#?[a-z0-9._-]{1,80}$/.test(argument)) {
          this.#print('Usage: /channel <name>, e.g. /channel #inc-payments');
          return;
        }
        this.channel = argument.startsWith('#') ? argument : `#${argument}`;
        this.#print(`Now in ${this.channel}.`);
        return;
      case '/wait': {
        const ms = parseDuration(argument);
        if (ms === undefined || ms > 3_600_000) {
          this.#print('Usage: /wait <duration up to 1h>, e.g. /wait 5s');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, ms));
        await this.#bot.deps.scheduler.tick();
        break;
      }
      case '/click': {
        const latest = argument === 'approve' ? this.#opts.chat.latestButton(APPROVE_ACTION) : undefined;
        const target = latest?.target ?? this.#opts.chat.button(Number(argument));
        if (!target) {
          this.#print(
            argument === 'approve'
              ? 'No approval card has been posted yet; /click approve presses Approve on the newest one.'
              : `There is no button [${argument}]. Buttons show as [n] under messages; press one with /click <n>, or /click approve.`,
          );
          return;
        }
        if (latest) this.#print(`(pressing [${latest.n}] Approve)`);
        await this.#bot.handleButton({
          actionId: target.actionId,
          value: target.value,
          user: { id: this.user, name: this.user },
          channel: target.channel,
          message: { channel: target.channel, ts: target.ts },
          respond: (m) => this.#respond(m),
        });
        break;
      }
      case '/react': {
        const [n, emoji] = rest;
        const ref = this.#opts.chat.messageTs(Number(n));
        if (!ref) {
          this.#print(
            'Usage: /react <message number> [emoji]; message numbers are shown in brackets, like [3].',
          );
          return;
        }
        const reaction = (emoji ?? this.#bot.deps.config.timeline.pinReaction).replace(/:/g, '');
        await this.#bot.handleReaction({ reaction, user: { id: this.user, name: this.user }, item: ref });
        this.#print(`${this.user} reacted :${reaction}: to [${n}]`);
        break;
      }
      default:
        if (word.startsWith('/')) {
          await this.#bot.handleCommand({
            command: word,
            text: argument,
            user: { id: this.user, name: this.user },
            channel: this.channel,
            respond: (m) => this.#respond(m),
            // Lets a command open a form, which the console then asks as prompts.
            triggerId: 'console',
          });
          const view = this.#opts.chat.pendingForm;
          this.#opts.chat.pendingForm = undefined;
          if (view) {
            this.#form = new ConsoleForm(view);
            this.#print(
              `(a form: answer each field on its own line; /cancel drops it)\n${this.#form.prompt()}`,
            );
          }
        } else {
          this.#opts.chat.say(this.channel, this.user, plain(line));
        }
    }
    await this.#bot.settled();
  }

  /** One answer to the open form; submits it once every field has one, like Slack's view_submission. */
  async #answer(line: string): Promise<void> {
    const form = this.#form;
    if (!form) return;
    if (!this.#opts.interactive) this.#print(`\n${this.user}@${this.channel}> ${line}`);
    if (line === '/cancel') {
      this.#form = undefined;
      this.#print('Form dropped; nothing was done.');
      return;
    }
    const problem = form.answer(line);
    if (problem) {
      this.#print(`${problem}\n${form.prompt()}`);
      return;
    }
    if (!form.done) {
      this.#print(form.prompt());
      return;
    }
    this.#form = undefined;
    const errors = await this.#bot.handleForm({
      callbackId: form.view.callbackId ?? '',
      values: form.values,
      user: { id: this.user, name: this.user },
      privateMetadata: form.view.privateMetadata ?? '',
    });
    if (errors) {
      this.#print(
        `${Object.entries(errors)
          .map(([field, message]) => `${field}: ${message}`)
          .join('\n')}\nNothing was done; run the command again.`,
      );
    }
    await this.#bot.settled();
  }

  /** Reads until end of input (or /quit), one line at a time. */
  async run(): Promise<void> {
    const rl = createInterface({
      input: this.#opts.input,
      terminal: this.#opts.interactive,
      output: this.#opts.interactive ? this.#opts.out : undefined,
    });
    const prompt = () => {
      if (this.#opts.interactive) {
        rl.setPrompt(`${this.user}@${this.channel}> `);
        rl.prompt();
      }
    };
    prompt();
    for await (const line of rl) {
      let result: 'quit' | void = undefined;
      try {
        result = await this.handleLine(line);
      } catch (err) {
        this.#print(`Error: ${(err as Error).message}`);
      }
      if (result === 'quit') break;
      prompt();
    }
    rl.close();
    await this.#bot.idle();
  }
}
