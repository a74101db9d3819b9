// The timeline's storage: one append-only stream per incident, hash-chained, never trimmed.
import type { Redactor } from './redact.ts';
import { keyBeside, type Store } from './store/store.ts';
import { checkAnchors, type Anchor } from './anchors.ts';
import {
  sealEvent,
  verifyChain,
  type NewEvent,
  type StoredEvent,
  type EventHasher,
  type TimelineEvent,
  type Verification,
} from './timeline.ts';

export type AppendListener = (event: TimelineEvent) => void;

export class TimelineLog {
  #store: Store;
  #now: () => Date;
  #listeners: AppendListener[] = [];
  #hasher: EventHasher | undefined;

  #redactor: Redactor | undefined;
  /**
   * Per incident, the count and head of the chain as last seen whole (or extended by this process's own appends
   * onto that head): chainHead answers from it while the stored head still matches, instead of reading the stream.
   */
  #known = new Map<string, { count: number; head: string | null }>();
  /** Per incident, the head this process last appended: tried first as the expected head (no read before it). */
  #heads = new Map<string, string | null>();

  /**
   * `hasher` keys the chain with a secret outside the store (the bot passes one; pure tests may not); `redactor`
   * scrubs every event before it is sealed.
   */
  constructor(
    store: Store,
    now: () => Date = () => new Date(),
    opts: { hasher?: EventHasher | undefined; redactor?: Redactor | undefined } = {},
  ) {
    this.#store = store;
    this.#now = now;
    this.#hasher = opts.hasher;
    this.#redactor = opts.redactor;
  }

  static streamKey(incident: string): string {
    return `timeline:${incident}`;
  }

  /** Beside the stream (one Cluster slot for the append script); `timeline:<id>:head` on one server, as before. */
  static headKey(incident: string): string {
    return keyBeside(TimelineLog.streamKey(incident), ':head');
  }

  /** Called after every append (the PagerDuty mirror subscribes here). */
  onAppend(listener: AppendListener): void {
    this.#listeners.push(listener);
  }

  /** Appends an event chained to the current head; concurrent writers retry until their event is on the chain. */
  async append(raw: NewEvent): Promise<TimelineEvent> {
    // Every stored event passes the redactor before it is sealed: the chain then covers the scrubbed text.
    const input = this.#redactor ? this.#redactor.known(raw) : raw;
    for (let attempt = 0; attempt < 100; attempt++) {
      // appendChained refuses a stale head, and the retry reads it: the chain links up whichever was used.
      const mine = attempt === 0 ? this.#heads.get(input.incident) : undefined;
      const head = mine !== undefined ? mine : await this.#store.get(TimelineLog.headKey(input.incident));
      const event = sealEvent(input, head, this.#now(), this.#hasher);
      const id = await this.#store.appendChained(
        TimelineLog.streamKey(input.incident),
        TimelineLog.headKey(input.incident),
        head,
        event.hash,
        { event: JSON.stringify(event) },
      );
      if (id === null) {
        this.#heads.delete(input.incident);
        continue;
      }
      this.#heads.set(input.incident, event.hash);
      const known = this.#known.get(input.incident);
      if (known && known.head === head)
        this.#known.set(input.incident, { count: known.count + 1, head: event.hash });
      else this.#known.delete(input.incident);
      for (const listener of this.#listeners) listener(event);
      return event;
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

  /**
   * How many events the chain holds and its last hash: what the anchors outside the store record. Every headline
   * edit asks, so it reads one key: the stream is read whole only when the stored head is not the one last seen
   * (another replica appended, or someone moved it), never once per edit of a long timeline.
   */
  async chainHead(incident: string): Promise<{ count: number; head: string | null }> {
    const known = this.#known.get(incident);
    if (known && (await this.#store.get(TimelineLog.headKey(incident))) === known.head) return { ...known };
    const stored = await this.readStored(incident);
    const chain = { count: stored.length, head: stored.at(-1)?.event?.hash ?? null };
    this.#known.set(incident, chain);
    return { ...chain };
  }

  /**
   * Walks the chain, then compares it with `anchors` (heads recorded outside the store): a rewritten chain or a
   * cut tail that still links up is caught there.
   */
  async verify(
    incident: string,
    anchors: Anchor[] = [],
  ): Promise<{ events: TimelineEvent[]; verification: Verification }> {
    const stored = await this.readStored(incident);
    const head = await this.#store.get(TimelineLog.headKey(incident));
    const chain = verifyChain(stored, head, this.#hasher);
    return {
      events: stored.flatMap((s) => (s.event ? [s.event] : [])),
      verification: chain.ok ? checkAnchors(stored, anchors, chain) : chain,
    };
  }
}
