// Marks work as a progress edit, so a transport with a rate budget can send everything else first.
import { AsyncLocalStorage } from 'node:async_hooks';

const progress = new AsyncLocalStorage<true>();

/** Runs `work` as a progress edit: its chat updates yield to posts, replies and other edits under pressure. */
export function asProgressEdit<T>(work: () => Promise<T>): Promise<T> {
  return progress.run(true, work);
}

/** True inside `asProgressEdit` (read by the Slack transport when it queues a chat.update). */
export function isProgressEdit(): boolean {
  return progress.getStore() === true;
}
