// The App Home tab: the open incidents for everyone who opened it, republished (coalesced) as incidents change.
import type { Chat, View } from '../../src/chat/chat.ts';
import { context, header, section } from '../../src/chat/blocks/kit.ts';
import type { Incident } from '../../src/incident.ts';
import type { Logger } from '../../src/log.ts';
import type { Store } from '../../src/store/store.ts';
import type { Throttle } from '../../src/tasks.ts';
import { incidentLines } from './blocks.ts';

const VIEWERS = 'app-home:viewers';

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
}

export class Home {
  #deps: HomeDeps;

  constructor(deps: HomeDeps) {
    this.#deps = deps;
  }

  async opened(user: string): Promise<void> {
    await this.#deps.store.addToSet(VIEWERS, user);
    await this.#publish([user]);
  }

  /** Coalesced: a burst of changes republishes once. */
  refresh(): void {
    this.#deps.throttle.schedule('app-home', async () => {
      await this.#publish(await this.#deps.store.members(VIEWERS));
    });
  }

  async #publish(users: string[]): Promise<void> {
    if (users.length === 0) return;
    const { chat, log, now, open } = this.#deps;
    const view = homeView(await open(), now().toISOString());
    for (const user of users) {
      try {
        await chat.publishHome(user, view);
      } catch (err) {
        log.warn({ err, user }, 'could not publish the App Home');
      }
    }
  }
}
