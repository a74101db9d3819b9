// Timers on a virtual clock for the exec adapter: nothing fires until the test advances time.
import { setImmediate as tick } from 'node:timers/promises';
import type { ExecTimers } from '../../src/adapters/kubernetes/types.ts';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

export class VirtualTimers implements ExecTimers {
  #now = 0;
  #seq = 0;
  #pending: Pending[] = [];

  now(): number {
    return this.#now;
  }

  set(fn: () => void, ms: number): { cancel(): void } {
    const entry: Pending = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#pending.push(entry);
    return {
      cancel: () => {
        this.#pending = this.#pending.filter((p) => p !== entry);
      },
    };
  }

  /** Moves the clock by `ms` in steps of at most `stepMs`, firing due timers and letting I/O run in between. */
  async advance(ms: number, stepMs = 1000): Promise<void> {
    const end = this.#now + ms;
    while (this.#now < end) {
      const next = Math.min(end, this.#now + stepMs);
      for (;;) {
        this.#pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const due = this.#pending[0];
        if (!due || due.at > next) break;
        this.#pending.shift();
        this.#now = Math.max(this.#now, due.at);
        due.fn();
        await tick();
      }
      this.#now = next;
      for (let i = 0; i < 5; i++) await tick();
    }
  }
}
