// manifest.yml must register exactly the commands the bot handles, with the scopes its Slack calls need.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { COMMANDS } from '../../commands/index.ts';

interface Manifest {
  features: { slash_commands: { command: string; description: string; usage_hint: string }[] };
  oauth_config: { scopes: { bot: string[] } };
  settings: { event_subscriptions: { bot_events: string[] }; interactivity: { is_enabled: boolean } };
}

const manifest = parse(readFileSync('manifest.yml', 'utf8')) as Manifest;

// Every Web API method the Slack adapter calls, and the bot scope it needs.
const SCOPE_OF: Record<string, string> = {
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'chat.getPermalink': 'chat:write',
  'pins.add': 'pins:write',
  'conversations.join': 'channels:join',
  'conversations.history': 'channels:history',
  'conversations.replies': 'channels:history',
  'usergroups.list': 'usergroups:read',
  'users.info': 'users:read',
  'conversations.create': 'channels:manage',
  'conversations.invite': 'channels:manage',
  filesUploadV2: 'files:write',
};

describe('manifest.yml', () => {
  it('lists exactly the registered commands, with the same descriptions and usage hints', () => {
    const inManifest = manifest.features.slash_commands.map((c) => ({
      name: c.command,
      summary: c.description,
      hint: c.usage_hint,
    }));
    const registered = COMMANDS.map((c) => ({ name: c.name, summary: c.summary, hint: c.usageHint }));
    assert.deepEqual(inManifest, registered);
  });

  it('grants a scope for every Web API method the Slack adapter calls', () => {
    const source = readFileSync('src/chat/slack/chat.ts', 'utf8');
    const called = [...source.matchAll(/this\.#client\.([a-zA-Z]+(?:\.[a-zA-Z]+)?)\(/g)].map(
      (m) => m[1] ?? '',
    );
    assert.ok(called.length >= 8, 'found the adapter calls');
    for (const method of called) {
      const scope = SCOPE_OF[method];
      assert.ok(scope, `${method} has a known scope (add it to SCOPE_OF)`);
      assert.ok(manifest.oauth_config.scopes.bot.includes(scope), `${method} needs ${scope}`);
    }
  });

  it('subscribes to reaction_added and enables interactivity for the approval buttons', () => {
    assert.ok(manifest.settings.event_subscriptions.bot_events.includes('reaction_added'));
    assert.equal(manifest.settings.interactivity.is_enabled, true);
  });
});
