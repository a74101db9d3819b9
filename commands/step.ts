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

export interface Step {
  /** The runbook letter and name ("C contain"), or the shared role ("approval"). */
  name: string;
  commands?: CommandSpec[];
  /** Button action ids and what a press does. */
  buttons?: Record<string, ButtonHandler>;
  reactions?: ReactionHandler[];
  /** Modal submissions (view_submission) by callback id. */
  forms?: FormHandler[];
  /**
   * Registers approval handlers, scheduled-job handlers and periodic work. Runs before the scheduler starts, so a
   * restarted bot acts on timers set before it died.
   */
  register?: (deps: Deps, options: StepOptions) => void;
}
