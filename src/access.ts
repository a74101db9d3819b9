// Who may run commands and who may approve: Slack user ids and user-group handles, resolved and cached.
import type { Access as AccessConfig } from './config.ts';

/** The approval rule that applies to one action: who may approve, how many must, and whether break-glass may. */
export interface Policy {
  /** The policy's name, or "default" when no `access.policies` entry matched. */
  name: string;
  approvers: string[];
  quorum: number;
  breakGlass: boolean;
  requesterTeamMayApprove: boolean;
  /** false: the incident commander's approval alone never meets the quorum. */
  commanderMayApproveAlone: boolean;
}

/** Why `actor` may not approve under a policy, or null when they may. */
export type Ineligible = { reason: 'not-listed' } | { reason: 'requester-team'; group: string };

export interface GroupResolver {
  (handle: string): Promise<string[] | undefined>;
}

/** Who PagerDuty has on call for an escalation policy or a schedule: PagerDuty ids and emails; throws when unreachable. */
export interface OncallResolver {
  (id: string, by: 'escalation_policy' | 'schedule'): Promise<{ id: string; email?: string }[]>;
}

/** How long the on-call set of an escalation policy is kept before PagerDuty is asked again. */
export const ONCALL_CACHE_MS = 30_000;

/** PagerDuty could not say who is on call: approval by on-call fails closed. */
export class OncallUnavailableError extends Error {
  code = 'approval.oncall-unavailable';
}

/** How long each of the two group caches (here and in the Slack chat) keeps a membership list. */
export const GROUP_CACHE_MS = 30_000;

export class Access {
  #config: AccessConfig;
  #resolve: GroupResolver;
  #cache = new Map<string, { members: Set<string>; at: number }>();
  #ttlMs: number;
  #now: () => number;
  #oncall: OncallResolver | undefined;
  #oncallCache = new Map<string, { ids: Set<string>; at: number }>();

  /**
   * `cacheMs` (default 30 s) plus the chat's own group cache (30 s) bound how long a person removed from an
   * approver group can still approve: under 60 s.
   */
  constructor(
    config: AccessConfig,
    resolveGroup: GroupResolver,
    opts: { cacheMs?: number; now?: () => number; oncall?: OncallResolver } = {},
  ) {
    this.#oncall = opts.oncall;
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

  /** The first `access.policies` entry matching the kind and service, else today's rule: one of `approvers`. */
  policyFor(kind: string, service: string): Policy {
    const risk = this.#config.risk[kind] ?? 'medium';
    const index = this.#config.policies.findIndex(
      (p) =>
        (p.kinds?.includes(kind) ?? true) &&
        (p.services?.includes(service) ?? true) &&
        (p.risks?.includes(risk) ?? true),
    );
    const found = this.#config.policies[index];
    if (!found) {
      return {
        name: 'default',
        approvers: this.#config.approvers,
        quorum: 1,
        breakGlass: this.#config.breakGlass,
        requesterTeamMayApprove: true,
        commanderMayApproveAlone: true,
      };
    }
    return {
      name: found.name ?? `access.policies[${index}]`,
      approvers: found.approvers ?? this.#config.approvers,
      quorum: found.quorum,
      breakGlass: found.breakGlass ?? this.#config.breakGlass,
      requesterTeamMayApprove: found.requesterTeamMayApprove,
      commanderMayApproveAlone: found.commanderMayApproveAlone,
    };
  }

  /** Whether `userId` may approve `requesterId`'s request under `policy` (membership read now, cached < 60 s). */
  async ineligible(userId: string, policy: Policy, requesterId: string): Promise<Ineligible | null> {
    if (!(await this.#matches(userId, policy.approvers))) return { reason: 'not-listed' };
    if (policy.requesterTeamMayApprove) return null;
    for (const entry of policy.approvers) {
      if (!entry.startsWith('@')) continue;
      const members = await this.#members(entry.slice(1));
      if (members.has(userId) && members.has(requesterId)) return { reason: 'requester-team', group: entry };
    }
    return null;
  }

  /** "@sre-leads, U024BE7LH" as shown on approval cards (of `policy`, default today's approvers). */
  describeApprovers(policy?: Policy): string {
    return (policy?.approvers ?? this.#config.approvers)
      .map((e) =>
        e.startsWith('oncall:schedule:')
          ? `on-call of schedule ${e.slice(16)}`
          : e.startsWith('oncall:')
            ? `on-call of ${e.slice(7)}`
            : e.startsWith('@') || e === '*'
              ? e
              : `<@${e}>`,
      )
      .join(', ');
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

  /**
   * Everyone who may approve under `policy` now: ids named, in groups or on call. `unresolved` names what could
   * not be listed (an unknown group, an unreachable PagerDuty) with why.
   */
  async eligible(policy: Policy): Promise<{ ids: string[]; anyone: boolean; unresolved: string[] }> {
    const ids = new Set<string>();
    const unresolved: string[] = [];
    let anyone = false;
    for (const entry of policy.approvers) {
      if (entry === '*') anyone = true;
      else if (entry.startsWith('oncall:')) {
        try {
          for (const id of await this.#oncallIds(entry.slice(7))) ids.add(id);
        } catch (err) {
          unresolved.push(`${entry} (${(err as Error).message})`);
        }
      } else if (entry.startsWith('@')) {
        const members = await this.#members(entry.slice(1));
        if (members.size === 0) unresolved.push(entry);
        for (const id of members) ids.add(id);
      } else ids.add(entry);
    }
    return { ids: [...ids], anyone, unresolved };
  }

  async #matches(userId: string, entries: string[]): Promise<boolean> {
    // On-call entries last: a person named directly or through a group still approves while PagerDuty is down.
    const ordered = [
      ...entries.filter((e) => !e.startsWith('oncall:')),
      ...entries.filter((e) => e.startsWith('oncall:')),
    ];
    for (const entry of ordered) {
      if (entry === '*' || entry === userId) return true;
      if (entry.startsWith('oncall:') && (await this.#oncallIds(entry.slice(7))).has(userId)) return true;
      if (entry.startsWith('@') && (await this.#members(entry.slice(1))).has(userId)) return true;
    }
    return false;
  }

  /**
   * Slack ids of whoever is on call now (cached 30 s) for `target`: an escalation policy id, or `schedule:<id>`;
   * throws when PagerDuty cannot say.
   */
  async #oncallIds(target: string): Promise<Set<string>> {
    const cached = this.#oncallCache.get(target);
    if (cached && this.#now() - cached.at < ONCALL_CACHE_MS) return cached.ids;
    if (!this.#oncall) {
      throw new OncallUnavailableError(
        `approvers name oncall:${target}, but PagerDuty is not configured (PAGERDUTY_TOKEN), so nobody on call can be looked up`,
      );
    }
    const schedule = target.startsWith('schedule:');
    const id = schedule ? target.slice(9) : target;
    let users: { id: string; email?: string }[];
    try {
      users = await this.#oncall(id, schedule ? 'schedule' : 'escalation_policy');
    } catch (err) {
      throw new OncallUnavailableError(
        `PagerDuty could not say who is on call for ${schedule ? 'schedule' : 'escalation policy'} ${id} (${(err as Error).message})`,
      );
    }
    const map = this.#config.pagerdutyUsers;
    const ids = new Set<string>();
    for (const user of users) {
      const slack = map[user.id] ?? (user.email ? map[user.email] : undefined);
      if (slack) ids.add(slack);
    }
    this.#oncallCache.set(target, { ids, at: this.#now() });
    return ids;
  }

  /** Drops every cached group membership (Slack said a group changed): the next check reads it afresh. */
  forgetGroups(): void {
    this.#cache.clear();
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
