// The App Home tab: the open incidents for everyone who opened it, republished (coalesced) as incidents change.
import type { Chat, View } from '../../src/chat/chat.ts';
import { context, header, section } from '../../src/chat/blocks/kit.ts';
import type { Incident } from '../../src/incident.ts';
import type { Logger } from '../../src/log.ts';
import type { Store } from '../../src/store/store.ts';
import type { Throttle } from '../../src/tasks.ts';
import { incidentLines } from './blocks.ts';

const VIEWERS = 'app-home:viewers';
/** When each viewer last opened the tab (a schedule: member = user, score = time). */
const SEEN = 'app-home:seen';
/** A viewer who has not opened the tab for this long is no longer republished to. */
export const HOME_VIEWER_TTL_MS = 30 * 24 * 60 * 60_000;
/** Slack's answers for a person who is gone: nothing to publish to any more. */
const GONE = /: (user_not_found|account_inactive|invalid_user|user_disabled)\b/;

export function homeView(incidents: Incident[], at: string): View {
  const sorted = [...incidents].sort(
    (a, b) => a.severity.localeCompare(b.severity) || a.declaredAt.localeCompare(b.declaredAt),
  );
  return {
    type: 'home',
    blocks: [
      header(`Open incidents (${sorted.length})`),
      // A Home tab holds 100 blocks.
      ...(sorted.length === 0
        ? [section('Nothing open. `/incident declare` opens an incident (with no arguments, a form).')]
        : incidentLines(sorted.slice(0, 95)).map((line) => section(line))),
      ...(sorted.length > 95 ? [context(`…and ${sorted.length - 95} more; \`/incident list\``)] : []),
      context(
        `Updated ${at.replace('T', ' ').slice(0, 16)} UTC · \`/incident list\` shows the same in any channel`,
      ),
    ],
  };
}

export interface HomeDeps {
  store: Store;
  chat: Chat;
  throttle: Throttle;
  log: Logger;
  now: () => Date;
  open: () => Promise<Incident[]>;
  /** Whether the person may still see incidents; someone who left the responders stops getting the tab. */
  isResponder?: (user: string) => Promise<boolean>;
}

export class Home {
  #deps: HomeDeps;

  constructor(deps: HomeDeps) {
    this.#deps = deps;
  }

  async opened(user: string): Promise<void> {
    await this.#deps.store.addToSet(VIEWERS, user);
    await this.#deps.store.schedule(SEEN, user, this.#deps.now().getTime());
    await this.#publish([user]);
  }

  /** Coalesced: a burst of changes republishes once, to the viewers still worth publishing to. */
  refresh(): void {
    this.#deps.throttle.schedule('app-home', async () => {
      await this.#pruneUnseen();
      await this.#publish(await this.#deps.store.members(VIEWERS));
    });
  }

  async #forget(user: string, why: string): Promise<void> {
    await this.#deps.store.removeFromSet(VIEWERS, user);
    await this.#deps.store.unschedule(SEEN, user);
    this.#deps.log.info({ user, why }, 'App Home viewer dropped');
  }

  /** Viewers who have not opened the tab for HOME_VIEWER_TTL_MS; they are added back when they open it again. */
  async #pruneUnseen(): Promise<void> {
    const { store, now } = this.#deps;
    for (;;) {
      const stale = await store.due(SEEN, now().getTime() - HOME_VIEWER_TTL_MS, 100);
      for (const user of stale) await this.#forget(user, 'not opened for 30 days');
      if (stale.length < 100) return;
    }
  }

  async #publish(users: string[]): Promise<void> {
    if (users.length === 0) return;
    const { chat, log, now, open, isResponder } = this.#deps;
    const view = homeView(await open(), now().toISOString());
    for (const user of users) {
      try {
        if (isResponder && !(await isResponder(user))) {
          await this.#forget(user, 'no longer a responder');
          continue;
        }
        await chat.publishHome(user, view);
      } catch (err) {
        if (GONE.test((err as Error).message)) await this.#forget(user, (err as Error).message);
        else log.warn({ err, user }, 'could not publish the App Home');
      }
    }
  }
}
