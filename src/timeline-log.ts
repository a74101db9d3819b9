// The timeline's storage: one append-only stream per incident, hash-chained, never trimmed.
import type { Store } from './store/store.ts';
import {
  sealEvent,
  verifyChain,
  type NewEvent,
  type StoredEvent,
  type TimelineEvent,
  type Verification,
} from './timeline.ts';

export type AppendListener = (event: TimelineEvent) => void;

export class TimelineLog {
  #store: Store;
  #now: () => Date;
  #listeners: AppendListener[] = [];

  constructor(store: Store, now: () => Date = () => new Date()) {
    this.#store = store;
    this.#now = now;
  }

  static streamKey(incident: string): string {
    return `timeline:${incident}`;
  }

  static headKey(incident: string): string {
    return `timeline:${incident}:head`;
  }

  /** Called after every append (the PagerDuty mirror subscribes here). */
  onAppend(listener: AppendListener): void {
    this.#listeners.push(listener);
  }

  /** Appends an event chained to the current head; concurrent writers retry until their event is on the chain. */
  async append(input: NewEvent): Promise<TimelineEvent> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const head = await this.#store.get(TimelineLog.headKey(input.incident));
      const event = sealEvent(input, head, this.#now());
      const id = await this.#store.appendChained(
        TimelineLog.streamKey(input.incident),
        TimelineLog.headKey(input.incident),
        head,
        event.hash,
        { event: JSON.stringify(event) },
      );
      if (id !== null) {
        for (const listener of this.#listeners) listener(event);
        return event;
      }
    }
    throw new Error(`timeline ${input.incident}: could not append after 100 attempts`);
  }

  async readStored(incident: string): Promise<StoredEvent[]> {
    const entries = await this.#store.readStream(TimelineLog.streamKey(incident));
    return entries.map((entry) => {
      try {
        return { id: entry.id, event: JSON.parse(entry.fields.event ?? '') as TimelineEvent };
      } catch {
        return { id: entry.id, event: null };
      }
    });
  }

  async read(incident: string): Promise<TimelineEvent[]> {
    return (await this.readStored(incident)).flatMap((s) => (s.event ? [s.event] : []));
  }

  async verify(incident: string): Promise<{ events: TimelineEvent[]; verification: Verification }> {
    const stored = await this.readStored(incident);
    const head = await this.#store.get(TimelineLog.headKey(incident));
    return {
      events: stored.flatMap((s) => (s.event ? [s.event] : [])),
      verification: verifyChain(stored, head),
    };
  }
}
