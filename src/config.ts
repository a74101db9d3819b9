// The schema of cloud-safety.yml: every section the bot reads, validated at start with errors that name the path.
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.ts';
import { Access, Evidence, Timeline } from './config-access.ts';
import { Service, ServiceName } from './config-service.ts';
import { IncidentSettings } from './config-incident.ts';
import { Integrations } from './config-integrations.ts';

export * from './config-common.ts';
export * from './config-access.ts';
export * from './config-sandbox.ts';
export * from './config-traffic.ts';
export * from './config-kubernetes.ts';
export * from './config-ledger.ts';
export * from './config-breaker.ts';
export * from './config-service.ts';
export * from './config-incident.ts';
export * from './config-integrations.ts';

export const Config = z.strictObject({
  integrations: Integrations.optional(),
  access: Access,
  evidence: Evidence.default({ dir: './evidence' }),
  timeline: Timeline.default({ pinReaction: 'pushpin' }),
  incident: IncidentSettings.default(IncidentSettings.parse({})),
  services: z.record(ServiceName, Service).refine((services) => Object.keys(services).length > 0, {
    message: 'configure at least one service',
  }),
});
export type Config = z.infer<typeof Config>;

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

/** Validates an already-parsed document; `source` names the file in messages. */
export function parseConfig(document: unknown, source: string): Config {
  const result = Config.safeParse(document ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    // A bad record key (a service name) carries the key's own problem one level down.
    const inner = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
    return `  ${formatPath(issue.path)}: ${inner ?? issue.message}`;
  });
  throw new ConfigError(
    `${source} is not valid:\n${problems.join('\n')}\nSee cloud-safety.example.yml for a working file.`,
  );
}

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : String(err);
    throw new ConfigError(
      `${path} ${reason}. Copy cloud-safety.example.yml to cloud-safety.yml (or set CLOUD_SAFETY_CONFIG) and edit it.`,
    );
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError(`${path} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseConfig(document, path);
}
