// Durable timers: jobs scheduled in the Store survive restarts; whichever replica claims a due job runs it once.
import type { Logger } from './log.ts';
import type { Store } from './store/store.ts';
import type { Tasks } from './tasks.ts';

export type JobHandler = (member: string) => Promise<void>;

export class Scheduler {
  #store: Store;
  #tasks: Tasks;
  #log: Logger;
  #handlers = new Map<string, JobHandler>();
  #periodic: { name: string; everyMs: number; fn: () => Promise<void>; next: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #tickMs: number;
  #now: () => number;
  #ticking = false;

  constructor(deps: { store: Store; tasks: Tasks; log: Logger; tickMs?: number; now?: () => number }) {
    this.#store = deps.store;
    this.#tasks = deps.tasks;
    this.#log = deps.log;
    this.#tickMs = deps.tickMs ?? 1000;
    this.#now = deps.now ?? Date.now;
  }

  static queueKey(queue: string): string {
    return `schedule:${queue}`;
  }

  /** Registers what runs when a job of `queue` comes due. */
  handle(queue: string, handler: JobHandler): void {
    this.#handlers.set(queue, handler);
  }

  /** Runs `fn` every `everyMs` on this replica (callers use leases when only one replica may act). */
  every(name: string, everyMs: number, fn: () => Promise<void>): void {
    this.#periodic.push({ name, everyMs, fn, next: 0 });
  }

  async at(queue: string, member: string, when: number): Promise<void> {
    await this.#store.schedule(Scheduler.queueKey(queue), member, when);
  }

  async cancel(queue: string, member: string): Promise<void> {
    await this.#store.unschedule(Scheduler.queueKey(queue), member);
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.#tickMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One pass: claims and runs due jobs, then periodic work that is due. Safe to call directly in tests. */
  async tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      const now = this.#now();
      for (const [queue, handler] of this.#handlers) {
        let due: string[];
        try {
          due = await this.#store.due(Scheduler.queueKey(queue), now);
        } catch (err) {
          this.#log.warn({ err, queue }, 'scheduler could not read due jobs');
          continue;
        }
        for (const member of due) {
          // Removing the job is the claim: exactly one replica gets true.
          if (!(await this.#store.unschedule(Scheduler.queueKey(queue), member))) continue;
          this.#tasks.run(`job:${queue}:${member}`, () => handler(member));
        }
      }
      for (const job of this.#periodic) {
        if (now < job.next) continue;
        job.next = now + job.everyMs;
        this.#tasks.run(`every:${job.name}`, job.fn);
      }
    } finally {
      this.#ticking = false;
    }
  }
}
