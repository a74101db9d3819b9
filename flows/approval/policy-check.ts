// Startup check of `access.policies`: every service and action kind a policy names must exist, or the bot refuses to start.
import type { Config } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

/**
 * The policies' mistakes, one line each with the path (a typo in a kind would otherwise silently fall back to
 * the default rule: one approval from `access.approvers`).
 */
export function policyProblems(config: Config, kinds: readonly string[]): string[] {
  const services = Object.keys(config.services);
  const problems: string[] = [];
  config.access.policies.forEach((policy, i) => {
    policy.services?.forEach((service, j) => {
      if (!services.includes(service))
        problems.push(
          `access.policies.${i}.services.${j}: "${service}" is not a configured service (services: ${services.join(', ')})`,
        );
    });
    policy.kinds?.forEach((kind, j) => {
      if (!kinds.includes(kind))
        problems.push(
          `access.policies.${i}.kinds.${j}: "${kind}" is not an action kind of this bot (kinds: ${[...kinds].sort().join(', ')})`,
        );
    });
  });
  for (const kind of Object.keys(config.access.risk)) {
    if (!kinds.includes(kind))
      problems.push(
        `access.risk.${kind}: "${kind}" is not an action kind of this bot (kinds: ${[...kinds].sort().join(', ')})`,
      );
  }
  return problems;
}

/** Throws a ConfigError listing every problem, so the bot does not start with a policy that matches nothing. */
export function checkPolicies(config: Config, kinds: readonly string[], source = 'the config'): void {
  const problems = policyProblems(config, kinds);
  if (problems.length === 0) return;
  throw new ConfigError(
    `${source} has approval policies that name what does not exist:\n${problems.map((p) => `  ${p}`).join('\n')}\nFix the names (or remove the entry); a policy that matches nothing would leave those actions under the default rule.`,
  );
}
