// The transport-independent bot: authorises and dispatches commands, buttons and reactions; every transport calls it.
import { randomUUID } from 'node:crypto';
import type { ButtonPress, CommandInvocation, FormSubmission, Message, ReactionAdded } from './chat/chat.ts';
import { errorMessage, type HelpEntry } from './chat/blocks/common.ts';
import { outgoingMessage } from './chat/redacting.ts';
import type { Deps } from './deps.ts';
import { AccessError, ExternalServiceError, isUserFacing, UsageError } from './errors.ts';
import type { Incident } from './incident.ts';
import type { Outcome } from './metrics.ts';
import type { Actor } from './timeline.ts';

export interface CommandEntry extends HelpEntry {
  readOnly?: boolean;
  /** `commands` is every command this bot dispatches (what /incident help lists). */
  run(ctx: {
    inv: CommandInvocation;
    actor: Actor;
    deps: Deps;
    incident: Incident | null;
    commands: readonly HelpEntry[];
  }): Promise<void>;
}

/** `C` is what the handler may reach: its step's capabilities (the bot hands the whole `Deps`). */
export type ButtonHandler<C = Deps> = (press: ButtonPress, actor: Actor, deps: C) => Promise<void>;
export type ReactionHandler<C = Deps> = (deps: C, event: ReactionAdded, actor: Actor) => Promise<unknown>;

/** A modal's submission: checked before the ack (errors show beside the fields), then run. */
export interface FormHandler<C = Deps> {
  callbackId: string;
  /** The input block that errors not tied to one field are shown on. */
  firstBlock: string;
  check(
    sub: FormSubmission,
    deps: C,
  ):
    | { errors: Record<string, string> }
    | { channel: string; run(actor: Actor, respond: (m: Message) => Promise<void>): Promise<void> };
}

export interface BotParts {
  commands: CommandEntry[];
  buttons: Map<string, ButtonHandler>;
  reactions: ReactionHandler[];
  forms?: FormHandler[];
}

/** Bumped by the replica Slack told that a user group changed; every replica watches it (Slack tells only one). */
const GROUPS_CHANGED = 'access:groups:changed';
/** How often each replica looks: a removal from an approver group counts everywhere within this. */
export const GROUPS_POLL_MS = 2000;

export class Bot {
  readonly deps: Deps;
  #parts: BotParts;
  #started = false;
  /** The last value of GROUPS_CHANGED this replica has acted on. */
  #groupsSeen: string | null = null;

  constructor(deps: Deps, parts: BotParts) {
    this.deps = deps;
    this.#parts = parts;
    deps.scheduler.every('groups-changed', GROUPS_POLL_MS, () => this.followGroupChanges());
  }

  get commandNames(): string[] {
    return this.#parts.commands.map((c) => c.name);
  }

  /** Handles one slash command to completion: replies go through `inv.respond`. */
  async handleCommand(raw: CommandInvocation): Promise<Outcome> {
    const { deps } = this;
    // Ephemeral replies and response_url bodies leave the process too: the same scrubbing as channel messages.
    const inv: CommandInvocation = {
      ...raw,
      respond: (message) => raw.respond(outgoingMessage(deps.redactor, message)),
    };
    const spec = this.#parts.commands.find((c) => c.name === inv.command);
    const actor: Actor = { type: 'user', id: inv.user.id, name: inv.user.name || inv.user.id };
    let outcome: Outcome = 'ok';
    try {
      if (!spec) throw new UsageError(`${inv.command} is not a cloud-safety command. Try /incident help.`);
      if (!(await deps.access.isResponder(actor.id))) {
        throw new AccessError(
          'access.responder',
          'Only responders can run cloud-safety commands (access.responders in cloud-safety.yml). Ask the incident commander to add you.',
        );
      }
      const incident = await deps.incidents.active(inv.channel);
      await spec.run({ inv, actor, deps, incident, commands: this.#parts.commands });
    } catch (err) {
      outcome = await this.#reportError(err, inv.respond, { command: inv.command, user: actor.id });
    }
    deps.metrics.commands.inc({ command: spec ? inv.command : 'unknown', outcome });
    return outcome;
  }

  async handleButton(raw: ButtonPress): Promise<Outcome> {
    const { deps } = this;
    const press: ButtonPress = {
      ...raw,
      respond: (message) => raw.respond(outgoingMessage(deps.redactor, message)),
    };
    const actor: Actor = { type: 'user', id: press.user.id, name: press.user.name || press.user.id };
    const handler = this.#parts.buttons.get(press.actionId);
    try {
      if (!handler)
        throw new UsageError('That button is no longer handled by this bot; run the command again.');
      if (!(await deps.access.isResponder(actor.id))) {
        throw new AccessError('access.responder', 'Only responders can press cloud-safety buttons.');
      }
      await handler(press, actor, deps);
      return 'ok';
    } catch (err) {
      return this.#reportError(err, press.respond, { button: press.actionId, user: actor.id });
    }
  }

  /**
   * A submitted modal. Returns errors by block id for the transport to answer the submission with (nothing changed),
   * or undefined when accepted; the work then runs in the background and replies to the person ephemerally.
   */
  async handleForm(sub: FormSubmission): Promise<Record<string, string> | undefined> {
    const { deps } = this;
    const handler = this.#parts.forms?.find((f) => f.callbackId === sub.callbackId);
    if (!handler) return { form: 'This form is no longer handled by this bot; run the command again.' };
    const actor: Actor = { type: 'user', id: sub.user.id, name: sub.user.name || sub.user.id };
    if (!(await deps.access.isResponder(actor.id)))
      return {
        [handler.firstBlock]: 'Only responders can use cloud-safety (access.responders in cloud-safety.yml).',
      };
    const checked = handler.check(sub, deps);
    if ('errors' in checked) return checked.errors;
    const respond = (message: Message) => deps.chat.postEphemeral(checked.channel, actor.id, message);
    deps.tasks.run(`form:${sub.callbackId}`, async () => {
      let outcome: Outcome = 'ok';
      try {
        await checked.run(actor, respond);
      } catch (err) {
        outcome = await this.#reportError(err, respond, { form: sub.callbackId, user: actor.id });
      }
      deps.metrics.commands.inc({ command: `form:${sub.callbackId}`, outcome });
    });
    return undefined;
  }

  /** Someone opened the App Home tab: show them the open incidents, and keep it current from now on. */
  async handleHomeOpened(user: string): Promise<void> {
    const { deps } = this;
    if (!(await deps.access.isResponder(user))) return;
    await deps.incidents.home.opened(user);
  }

  /**
   * A user group's members changed (Slack's subteam_members_changed, delivered to one replica): forget cached
   * memberships here at once, and tell the other replicas through the store (they look every GROUPS_POLL_MS).
   */
  async handleGroupsChanged(): Promise<void> {
    this.#forgetGroups();
    this.#groupsSeen = String(await this.deps.store.incr(GROUPS_CHANGED));
  }

  /** Another replica heard that a group changed: forget this replica's cached memberships too. */
  async followGroupChanges(): Promise<void> {
    const now = await this.deps.store.get(GROUPS_CHANGED);
    if (now === this.#groupsSeen) return;
    this.#groupsSeen = now;
    this.#forgetGroups();
  }

  #forgetGroups(): void {
    this.deps.access.forgetGroups();
    this.deps.chat.forgetGroups?.();
  }

  async handleReaction(event: ReactionAdded): Promise<void> {
    const { deps } = this;
    if (event.eventId && !(await this.firstDelivery(event.eventId))) return;
    const actor: Actor = { type: 'user', id: event.user.id, name: event.user.name || event.user.id };
    if (!(await deps.access.isResponder(actor.id))) return;
    for (const handler of this.#parts.reactions) {
      try {
        await handler(deps, event, actor);
      } catch (err) {
        deps.log.error({ err, reaction: event.reaction }, 'reaction handler failed');
      }
    }
  }

  /** True the first time an event id is seen (Slack retries deliveries it thinks were lost). */
  async firstDelivery(eventId: string): Promise<boolean> {
    return this.deps.store.set(`slack-event:${eventId}`, '1', { ifAbsent: true, ttlMs: 24 * 3_600_000 });
  }

  async #reportError(
    err: unknown,
    respond: (m: Message) => Promise<void>,
    meta: Record<string, string>,
  ): Promise<Outcome> {
    const { deps } = this;
    let message: Message;
    let outcome: Outcome;
    if (err instanceof UsageError) {
      outcome = 'usage';
      message = errorMessage(err.message, err.usage);
    } else if (err instanceof AccessError) {
      outcome = 'denied';
      message = errorMessage(err.message);
    } else if (err instanceof ExternalServiceError) {
      outcome = 'error';
      deps.log.warn({ err, ...meta }, 'outside system failed');
      message = errorMessage(`${err.service} failed: ${err.message}`);
    } else if (isUserFacing(err)) {
      outcome = 'error';
      message = errorMessage(err.message);
    } else {
      outcome = 'error';
      const ref = randomUUID().slice(0, 8);
      deps.log.error({ err, ref, ...meta }, 'command failed');
      message = errorMessage(
        `Something failed on our side (ref ${ref}); the bot's log has the details. Nothing more was changed.`,
      );
    }
    try {
      await respond(message);
    } catch (replyErr) {
      deps.log.warn({ err: replyErr, ...meta }, 'could not send the error reply');
    }
    return outcome;
  }

  /** Starts timers (expiries, recovery of interrupted actions). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.deps.scheduler.start();
    await this.deps.approvals.recover();
  }

  async stop(): Promise<void> {
    this.deps.scheduler.stop();
    await this.deps.tasks.idle();
    await this.deps.pagerduty.release();
  }

  /** Waits for background work (message edits, executions) to settle, and for timers set for later work. */
  idle(): Promise<void> {
    return this.deps.tasks.idle();
  }

  /**
   * Waits for the work commands started (replies, edits, executions), not for windows still open for later work
   * (the PagerDuty mirror's note batching): the console's prompt comes back when the command is done.
   */
  settled(): Promise<void> {
    return this.deps.tasks.settled();
  }
}
