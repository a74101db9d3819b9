// The CLOUD-SAFETY runbook: its five steps and the checklist an incident keeps of them (pure).
import type { Step } from './timeline.ts';

export type { Step };

export interface StepInfo {
  id: Step;
  title: string;
  commands: string[];
  goal: string;
}

export const STEPS: readonly StepInfo[] = [
  {
    id: 'C',
    title: 'Contain the blast radius',
    commands: ['/contain'],
    goal: 'shift weighted DNS back to legacy',
  },
  {
    id: 'L',
    title: 'Log telemetry',
    commands: ['/telemetry'],
    goal: 'heap dumps, thread traces, quarantine',
  },
  {
    id: 'O',
    title: 'Orchestrate clean-state rollback',
    commands: ['/ledger'],
    goal: 'audit the ledger between legacy and cloud',
  },
  {
    id: 'U',
    title: 'Uncover the root cause offline',
    commands: ['/sandbox'],
    goal: 'Terraform replica in a sandbox',
  },
  {
    id: 'D',
    title: 'Develop automated circuit breakers',
    commands: ['/breaker', '/canary', '/preflight'],
    goal: 'canary analysis that shifts traffic back with no human',
  },
];

export type StepState = 'not_started' | 'in_progress' | 'done' | 'skipped';

export interface StepStatus {
  state: StepState;
  last?: { summary: string; at: string };
}

export type Checklist = Record<Step, StepStatus>;

export function isStep(value: unknown): value is Step {
  return value === 'C' || value === 'L' || value === 'O' || value === 'U' || value === 'D';
}

export function newChecklist(): Checklist {
  return {
    C: { state: 'not_started' },
    L: { state: 'not_started' },
    O: { state: 'not_started' },
    U: { state: 'not_started' },
    D: { state: 'not_started' },
  };
}

/** Records progress on a step; `state` omitted keeps the state and only updates the last thing that happened. */
export function markStep(
  checklist: Checklist,
  step: Step,
  update: { state?: StepState; summary: string; at: string },
): Checklist {
  const current = checklist[step];
  return {
    ...checklist,
    [step]: { state: update.state ?? current.state, last: { summary: update.summary, at: update.at } },
  };
}

export function stepInfo(step: Step): StepInfo {
  const info = STEPS.find((s) => s.id === step);
  if (!info) throw new Error(`unknown step ${step}`);
  return info;
}
