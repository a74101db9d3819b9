// The runbook steps the bot is made of, in the order /incident help lists their commands. Adding a step is adding
// its folder under flows/ and one line here; manifest.yml must list exactly the commands below (a test checks).
import type { ButtonHandler, FormHandler, ReactionHandler } from '../src/bot.ts';
import type { Deps } from '../src/deps.ts';
import { approvalStep } from '../flows/approval/step.ts';
import { breakerStep } from '../flows/breaker/step.ts';
import { canaryStep } from '../flows/canary/step.ts';
import { containStep } from '../flows/contain/step.ts';
import { drillStep } from '../flows/drill/step.ts';
import { incidentStep } from '../flows/incident/step.ts';
import { ledgerStep } from '../flows/ledger/step.ts';
import { postmortemStep } from '../flows/postmortem/step.ts';
import { preflightStep } from '../flows/preflight/step.ts';
import { sandboxStep } from '../flows/sandbox/step.ts';
import { telemetryStep } from '../flows/telemetry/step.ts';
import { timelineStep } from '../flows/timeline/step.ts';
import type { CommandSpec } from './command.ts';
import type { Step, StepOptions } from './step.ts';

export const STEPS: Step[] = [
  incidentStep,
  containStep,
  telemetryStep,
  ledgerStep,
  sandboxStep,
  breakerStep,
  canaryStep,
  preflightStep,
  timelineStep,
  postmortemStep,
  approvalStep,
  drillStep,
];

export const COMMANDS: CommandSpec[] = STEPS.flatMap((step) => step.commands ?? []);

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** What the bot dispatches to, gathered from the steps; a button id declared twice is a wiring mistake. */
export function stepParts(steps: Step[] = STEPS): {
  commands: CommandSpec[];
  buttons: Map<string, ButtonHandler>;
  reactions: ReactionHandler[];
  forms: FormHandler[];
} {
  const buttons = new Map<string, ButtonHandler>();
  for (const step of steps) {
    for (const [id, handler] of Object.entries(step.buttons ?? {})) {
      if (buttons.has(id))
        throw new Error(`button ${id} is declared by two steps (the second is ${step.name})`);
      buttons.set(id, handler);
    }
  }
  const commands = steps.flatMap((step) => step.commands ?? []);
  const names = new Set<string>();
  for (const c of commands) {
    if (names.has(c.name)) throw new Error(`${c.name} is declared by two steps`);
    names.add(c.name);
  }
  const forms = steps.flatMap((step) => step.forms ?? []);
  const callbacks = new Set<string>();
  for (const f of forms) {
    if (callbacks.has(f.callbackId)) throw new Error(`form ${f.callbackId} is declared by two steps`);
    callbacks.add(f.callbackId);
  }
  return { commands, buttons, reactions: steps.flatMap((step) => step.reactions ?? []), forms };
}

/** Registers every step's handlers and timers (before the scheduler starts). */
export function registerSteps(deps: Deps, options: StepOptions, steps: Step[] = STEPS): void {
  for (const step of steps) step.register?.(deps, options);
}
