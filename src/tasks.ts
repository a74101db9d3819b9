// Background work the bot starts after acking: tracked so shutdown (and tests, and piped console scripts) can wait for it.
import type { Logger } from './log.ts';
import { asProgressEdit } from './send-lane.ts';

export class Tasks {
  #running = new Set<Promise<unknown>>();
  /** Windows waiting to close before their work starts (see `after`). */
  #timers = new Set<Promise<unknown>>();
  #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Runs `work` in the background; a failure is logged, never unhandled. `afterPendingIo` first lets the
   * event loop serve requests already waiting (their acks must leave within Slack's 3 seconds).
   */
  run(name: string, work: () => Promise<unknown>, opts: { afterPendingIo?: boolean } = {}): void {
    const promise = (async () => {
      try {
        if (opts.afterPendingIo) await new Promise((resolve) => setImmediate(resolve));
        await work();
      } catch (err) {
        this.#log.error({ err, task: name }, 'background task failed');
      }
    })();
    this.#running.add(promise);
    void promise.finally(() => this.#running.delete(promise));
  }

  /**
   * Runs `work` in the background once `delayMs` has passed (a batching window). `idle()` waits for the window and
   * the work; `settled()` waits for neither until the window closes, so a console prompt is not held by a timer.
   */
  after(name: string, delayMs: number, work: () => Promise<unknown>): void {
    const timer = new Promise((resolve) => setTimeout(resolve, delayMs)).then(() => this.run(name, work));
    this.#timers.add(timer);
    void timer.finally(() => this.#timers.delete(timer));
  }

  get size(): number {
    return this.#running.size;
  }

  /** Resolves once nothing is running or waiting to run, including work started by work that was running. */
  async idle(): Promise<void> {
    while (this.#running.size > 0 || this.#timers.size > 0) {
      await Promise.allSettled([...this.#running, ...this.#timers]);
    }
  }

  /** Resolves once nothing is running; windows still open (`after`) are left to run on their own. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}

/**
 * Coalesces bursts per key: the first call runs now, calls within `intervalMs` collapse into one trailing run.
 * Runs of one key never overlap: a call made while a run is in flight runs after it, so edits of a message reach
 * Slack in order and the last one shows the latest state (a slow or retried edit cannot overwrite a newer one).
 * Used for message edits (Slack allows about one chat.update per second per message). Runs are progress edits
 * (`asProgressEdit`) unless scheduled with `{ progress: false }` (an approval card's state): under a rate budget,
 * posts, replies and those edits go first.
 */
export class Throttle {
  #last = new Map<string, number>();
  #pending = new Map<string, { fn: () => Promise<void>; progress: boolean }>();
  #timers = new Map<string, Promise<void>>();
  #intervalMs: number;
  #tasks: Tasks;

  constructor(tasks: Tasks, intervalMs: number) {
    this.#tasks = tasks;
    this.#intervalMs = intervalMs;
  }

  schedule(key: string, fn: () => Promise<void>, opts: { progress?: boolean } = {}): void {
    this.#pending.set(key, { fn, progress: opts.progress ?? true });
    if (this.#timers.has(key)) return;
    const wait = Math.max(0, (this.#last.get(key) ?? 0) + this.#intervalMs - Date.now());
    const timer = new Promise<void>((resolve) => setTimeout(resolve, wait)).then(async () => {
      const next = this.#pending.get(key);
      this.#pending.delete(key);
      this.#last.set(key, Date.now());
      try {
        if (next) await (next.progress ? asProgressEdit(next.fn) : next.fn());
      } finally {
        // Calls made during the run waited for it; the latest of them runs next, after the interval.
        this.#timers.delete(key);
        const again = this.#pending.get(key);
        if (again) this.schedule(key, again.fn, { progress: again.progress });
      }
    });
    this.#timers.set(key, timer);
    this.#tasks.run(`throttle:${key}`, () => timer);
  }
}
