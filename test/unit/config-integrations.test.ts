// The integrations config: the examples in docs/integrations.md load, and mistakes are named by their path.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { buildIntegrationAdapters } from '../../src/adapters/integrations.ts';
import { parseConfig } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { secretValues } from '../../src/main.ts';

const ACCESS = { responders: ['U0ALICE'], approvers: ['U0BOB'] };

function load(doc: Record<string, unknown>) {
  return parseConfig({ access: ACCESS, services: { payments: {} }, ...doc }, 'cloud-safety.yml');
}

function problem(doc: Record<string, unknown>): string {
  try {
    load(doc);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  assert.fail('the config was accepted');
}

describe('config: integrations', () => {
  it('accepts every yaml example in docs/integrations.md, and builds each adapter from its secrets', () => {
    const blocks = [...readFileSync('docs/integrations.md', 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)];
    assert.ok(blocks.length >= 4);
    const merged: Record<string, Record<string, unknown>> = { integrations: {}, services: {} };
    for (const [, text] of blocks) {
      const doc = parse(text ?? '') as Record<string, Record<string, unknown>>;
      Object.assign(merged.integrations ?? {}, doc.integrations);
      Object.assign(merged.services ?? {}, doc.services);
    }
    const config = load(merged);
    assert.equal(config.services.payments?.alerts?.severity, 'SEV1');
    assert.deepEqual(config.integrations?.webhooks[0]?.kinds, ['*']);
    const env = {
      GITHUB_TOKEN: 'g',
      JIRA_EMAIL: 'bot@acme.example',
      JIRA_API_TOKEN: 'j',
      LINEAR_API_KEY: 'l',
      CONFLUENCE_EMAIL: 'bot@acme.example',
      CONFLUENCE_API_TOKEN: 'c',
      NOTION_TOKEN: 'n',
    };
    const built = buildIntegrationAdapters(config, env);
    assert.deepEqual(
      built.trackers?.map((t) => t.name),
      ['github', 'jira', 'linear'],
    );
    assert.deepEqual(
      built.pages?.map((p) => p.name),
      ['confluence', 'notion'],
    );
  });

  it('names the missing environment variable of a credential', () => {
    const config = load({
      integrations: { followUps: { github: { repo: 'acme/payments', token: { env: 'GITHUB_TOKEN' } } } },
    });
    assert.throws(
      () => buildIntegrationAdapters(config, {}),
      /integrations\.followUps\.github\.token names the environment variable GITHUB_TOKEN, which is not set/,
    );
  });

  it('names each mistake by its path', () => {
    assert.match(
      problem({ services: { payments: { alerts: { match: { service: 'payments' } } } } }),
      /services\.payments\.channel: alerts declare incidents in the service channel: set channel/,
    );
    assert.match(
      problem({ services: { payments: { channel: 'C1', alerts: { match: {} } } } }),
      /services\.payments\.alerts\.match: name at least one label/,
    );
    assert.match(
      problem({ integrations: { webhooks: [{ name: 'siem', url: 'ftp://x', secret: { env: 'S' } }] } }),
      /integrations\.webhooks\.0\.url: an http\(s\) URL/,
    );
    assert.match(
      problem({ integrations: { followUps: { linear: { teamId: 'ENG', apiKey: { env: 'K' } } } } }),
      /integrations\.followUps\.linear\.teamId: the team's UUID/,
    );
    assert.match(
      problem({
        integrations: {
          followUps: {
            jira: { site: 'https://a.atlassian.net', project: 'ops', email: 'e', token: { env: 'T' } },
          },
        },
      }),
      /integrations\.followUps\.jira\.project: a Jira project key, like OPS/,
    );
    assert.match(
      problem({ integrations: { tokne: { env: 'T' } } }),
      /integrations: Unrecognized key: "tokne"/,
    );
  });

  it('redacts the values of the variables the docs name', () => {
    const values = secretValues({
      LINEAR_API_KEY: 'lin_api_x',
      CLOUD_SAFETY_HOOK_HMAC: 'hmac-x',
      SIEM_WEBHOOK_SECRET: 'siem-x',
      JIRA_API_TOKEN: 'jira-x',
      JIRA_EMAIL: 'bot@acme.example',
    });
    assert.deepEqual(values.sort(), ['hmac-x', 'jira-x', 'lin_api_x', 'siem-x']);
  });
});
