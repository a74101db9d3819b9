// What a runbook step adds to the bot, declared in one value: its commands, its buttons and reactions, and the
// handlers it registers (approval kinds, durable timers, periodic sweeps). `commands/index.ts` lists the steps.
import type { BreakerOptions } from '../flows/breaker/index.ts';
import type { ButtonHandler, FormHandler, ReactionHandler } from '../src/bot.ts';
import type { Deps } from '../src/deps.ts';
import type { CommandSpec } from './command.ts';

/** Tuning the composition root passes to steps (tests shorten leases and windows). */
export interface StepOptions {
  breaker?: Partial<BreakerOptions>;
}

/**
 * `C` is the step's capabilities: the part of `Deps` it declares it needs (its `caps.ts`). Its commands and
 * `register` see only those; the composition root hands the whole `Deps`, which satisfies every step's.
 */
export interface Step<C = Deps> {
  /** The runbook letter and name ("C contain"), or the shared role ("approval"). */
  name: string;
  commands?: CommandSpec<C>[];
  /** Button action ids and what a press does. */
  buttons?: Record<string, ButtonHandler<C>>;
  reactions?: ReactionHandler<C>[];
  /** Modal submissions (view_submission) by callback id. */
  forms?: FormHandler<C>[];
  /**
   * Registers approval handlers, scheduled-job handlers and periodic work. Runs before the scheduler starts, so a
   * restarted bot acts on timers set before it died.
   */
  register?: (deps: C, options: StepOptions) => void;
}
