// The drill's story over time: cloud pods leak memory in proportion to the traffic they get, are OOMKilled at their
// limit and come back at a baseline; the 5xx ratio follows the worst pod; a shift to legacy lets them recover.
// Driven by an injected clock and the live Route 53 weights, so the simulators react to what the bot writes.
import type { FaultName, Scenario } from './scenario.ts';

const MiB = 1024 * 1024;
/** Integration step, in story milliseconds: fine enough that a pod never skips past its limit unnoticed. */
const STEP_MS = 5_000;
/** The most story time one read integrates (a laptop woken from sleep must not spin). */
const MAX_CATCH_UP_MS = 24 * 3_600_000;

export interface StoryPod {
  name: string;
  memoryMiB: number;
  restarts: number;
  /** Wall-clock time (ms) of the last OOMKill, if any. */
  lastOomAt?: number;
}

export interface StoryOptions {
  scenario: Scenario;
  /** Real ms × 1/timeFactor = story ms: 0.05 runs a 20-minute story in one real minute. */
  timeFactor: number;
  now: () => number;
  /** The cloud stack's share of traffic now (0..1), read from the simulated Route 53. */
  cloudShare: () => number;
  /** Called once per scheduled fault when its story time comes. */
  onFault?: (fault: FaultName) => void;
  /** Called on every OOMKill, with the wall-clock time it happened (the story advances lazily, on reads). */
  onOom?: (pod: StoryPod, at: number) => void;
}

/** A story event the simulated cluster reports (OOMKills, back-offs). */
export interface StoryEvent {
  pod: string;
  at: number;
}

export class Story {
  readonly pods: StoryPod[];
  readonly ooms: StoryEvent[] = [];
  readonly startedAt: number;
  #opts: StoryOptions;
  #at: number;
  #initialShare: number;
  #faultsDone = 0;
  #advancing = false;

  constructor(opts: StoryOptions) {
    this.#opts = opts;
    const { scenario, now, timeFactor } = opts;
    this.startedAt = now();
    this.#at = this.startedAt;
    const t = scenario.traffic;
    this.#initialShare = t.cloud / (t.legacy + t.cloud);
    this.pods = scenario.pods.list.map((p) => ({
      name: podName(scenario, p.name),
      memoryMiB: p.memoryMiB,
      restarts: p.restarts,
      // Before the drill began, on the story's own scale.
      ...(p.lastOomAgo !== undefined ? { lastOomAt: this.startedAt - p.lastOomAgo * timeFactor } : {}),
    }));
  }

  /** Story time elapsed since the drill started, in ms. */
  elapsed(): number {
    this.advance();
    return (this.#at - this.startedAt) / this.#opts.timeFactor;
  }

  /** Brings the story up to the clock: integrates memory, fires OOMKills and scheduled faults. */
  advance(): void {
    const target = this.#opts.now();
    if (this.#advancing || target <= this.#at) return;
    this.#advancing = true;
    try {
      this.#integrate(target);
    } finally {
      this.#advancing = false;
    }
  }

  #integrate(target: number): void {
    const { scenario, timeFactor } = this.#opts;
    const share = this.#opts.cloudShare();
    // Leak scales with the pod's share of requests, relative to the split the story started with.
    const load = this.#initialShare > 0 ? share / this.#initialShare : share > 0 ? 1 : 0;
    let storyLeft = Math.min((target - this.#at) / timeFactor, MAX_CATCH_UP_MS);
    let wall = this.#at;
    while (storyLeft > 0) {
      const step = Math.min(STEP_MS, storyLeft);
      storyLeft -= step;
      wall += step * timeFactor;
      const minutes = step / 60_000;
      for (const pod of this.pods) {
        if (load > 0) pod.memoryMiB += scenario.pods.leakMiBPerMinute * load * minutes;
        else
          pod.memoryMiB = Math.max(
            scenario.pods.baselineMiB,
            pod.memoryMiB - scenario.pods.recoverMiBPerMinute * minutes,
          );
        if (pod.memoryMiB >= scenario.pods.limitMiB) this.#oom(pod, wall);
      }
      this.#at = wall;
      this.#fireFaults((wall - this.startedAt) / timeFactor);
    }
    this.#at = target;
  }

  /** OOMKills the pod with the most headroom now (the `oom` fault: a second pod goes down). */
  oomNow(): StoryPod | undefined {
    this.advance();
    const pod = [...this.pods].sort((a, b) => a.memoryMiB - b.memoryMiB)[0];
    if (pod) this.#oom(pod, this.#at);
    return pod;
  }

  /** Working set over limit of the worst pod, 0..1. */
  worstFraction(): number {
    this.advance();
    const limit = this.#opts.scenario.pods.limitMiB;
    return Math.max(...this.pods.map((p) => p.memoryMiB / limit));
  }

  /** The cloud stack's 5xx ratio: base, climbing to atLimit as the worst pod nears its limit. */
  cloudErrorRatio(): number {
    const { base, atLimit, from } = this.#opts.scenario.errors;
    const pressure = Math.min(1, Math.max(0, (this.worstFraction() - from) / (1 - from)));
    return base + (atLimit - base) * pressure;
  }

  /** What users see: the two stacks' 5xx weighted by the traffic each gets. */
  serviceErrorRatio(): number {
    const share = this.#opts.cloudShare();
    return share * this.cloudErrorRatio() + (1 - share) * this.#opts.scenario.errors.base;
  }

  usageBytes(pod: StoryPod): number {
    return Math.round(pod.memoryMiB * MiB);
  }

  #oom(pod: StoryPod, at: number): void {
    pod.restarts += 1;
    pod.lastOomAt = at;
    pod.memoryMiB = this.#opts.scenario.pods.baselineMiB;
    this.ooms.push({ pod: pod.name, at });
    this.#opts.onOom?.(pod, at);
  }

  #fireFaults(storyMs: number): void {
    const faults = this.#opts.scenario.faults;
    while (this.#faultsDone < faults.length) {
      const next = [...faults].sort((a, b) => a.at - b.at)[this.#faultsDone];
      if (!next || next.at > storyMs) return;
      this.#faultsDone += 1;
      this.#opts.onFault?.(next.fault);
    }
  }
}

/** `payments-cloud-7d9f8b6c5-x2k4q`: the pod's full name, as a ReplicaSet of the cloud Deployment names it. */
export function podName(scenario: Scenario, suffix: string): string {
  return `${scenario.service}-cloud-7d9f8b6c5-${suffix}`;
}
