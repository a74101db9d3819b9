// Who may run commands and who may approve: Slack user ids and user-group handles, resolved and cached.
import type { Access as AccessConfig } from './config.ts';

export interface GroupResolver {
  (handle: string): Promise<string[] | undefined>;
}

/** How long each of the two group caches (here and in the Slack chat) keeps a membership list. */
export const GROUP_CACHE_MS = 30_000;

export class Access {
  #config: AccessConfig;
  #resolve: GroupResolver;
  #cache = new Map<string, { members: Set<string>; at: number }>();
  #ttlMs: number;
  #now: () => number;

  /**
   * `cacheMs` (default 30 s) plus the chat's own group cache (30 s) bound how long a person removed from an
   * approver group can still approve: under 60 s.
   */
  constructor(
    config: AccessConfig,
    resolveGroup: GroupResolver,
    opts: { cacheMs?: number; now?: () => number } = {},
  ) {
    this.#config = config;
    this.#resolve = resolveGroup;
    this.#ttlMs = opts.cacheMs ?? GROUP_CACHE_MS;
    this.#now = opts.now ?? Date.now;
  }

  get approvalTtlMs(): number {
    return this.#config.approvalTtl;
  }

  get breakGlassAllowed(): boolean {
    return this.#config.breakGlass;
  }

  isResponder(userId: string): Promise<boolean> {
    // Approvers can always act as responders: the person approving must be able to see the incident.
    return this.#matches(userId, [...this.#config.responders, ...this.#config.approvers]);
  }

  isApprover(userId: string): Promise<boolean> {
    return this.#matches(userId, this.#config.approvers);
  }

  /** "@sre-leads, U024BE7LH" as shown on approval cards. */
  describeApprovers(): string {
    return this.#config.approvers.map((e) => (e.startsWith('@') || e === '*' ? e : `<@${e}>`)).join(', ');
  }

  /**
   * Who can approve: user ids named directly or through groups (resolved now), and whether "*" lets anyone.
   * `unresolved` lists group handles that could not be listed (unknown in Slack and not defined locally).
   */
  async approverIds(): Promise<{ ids: string[]; anyone: boolean; unresolved: string[] }> {
    const ids = new Set<string>();
    const unresolved: string[] = [];
    let anyone = false;
    for (const entry of this.#config.approvers) {
      if (entry === '*') anyone = true;
      else if (entry.startsWith('@')) {
        const members = await this.#members(entry.slice(1));
        if (members.size === 0) unresolved.push(entry);
        for (const id of members) ids.add(id);
      } else ids.add(entry);
    }
    return { ids: [...ids], anyone, unresolved };
  }

  async #matches(userId: string, entries: string[]): Promise<boolean> {
    for (const entry of entries) {
      if (entry === '*' || entry === userId) return true;
      if (entry.startsWith('@') && (await this.#members(entry.slice(1))).has(userId)) return true;
    }
    return false;
  }

  async #members(handle: string): Promise<Set<string>> {
    const local = this.#config.groups[handle] ?? this.#config.groups[`@${handle}`];
    if (local) return new Set(local);
    const cached = this.#cache.get(handle);
    if (cached && this.#now() - cached.at < this.#ttlMs) return cached.members;
    const members = new Set((await this.#resolve(handle)) ?? []);
    this.#cache.set(handle, { members, at: this.#now() });
    return members;
  }
}
