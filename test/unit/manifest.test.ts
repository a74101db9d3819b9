// manifest.yml must register exactly the commands the bot handles, with the scopes its Slack calls need.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { COMMANDS } from '../../commands/index.ts';

interface Manifest {
  features: {
    app_home: { home_tab_enabled: boolean };
    slash_commands: { command: string; description: string; usage_hint: string }[];
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: { event_subscriptions: { bot_events: string[] }; interactivity: { is_enabled: boolean } };
}

const manifest = parse(readFileSync('manifest.yml', 'utf8')) as Manifest;

// Every Web API method the Slack adapter calls, and the bot scope it needs (null: Slack asks for none).
const SCOPE_OF: Record<string, string | null> = {
  'views.open': null,
  'views.publish': null,
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
  'users.lookupByEmail': 'users:read.email',
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
      assert.ok(scope !== undefined, `${method} has a known scope (add it to SCOPE_OF)`);
      if (scope) assert.ok(manifest.oauth_config.scopes.bot.includes(scope), `${method} needs ${scope}`);
    }
  });

  it('subscribes to reaction_added and enables interactivity for the approval buttons', () => {
    assert.ok(manifest.settings.event_subscriptions.bot_events.includes('reaction_added'));
    // The App Home tab: its event and the tab itself; the declare modal's submission comes through interactivity.
    assert.ok(manifest.settings.event_subscriptions.bot_events.includes('app_home_opened'));
    assert.equal(manifest.features.app_home.home_tab_enabled, true);
    assert.equal(manifest.settings.interactivity.is_enabled, true);
  });

  it('subscribes to every event the Slack transport listens for', () => {
    const source = readFileSync('src/chat/slack/app.ts', 'utf8');
    const events = [...source.matchAll(/app\.event\('([a-z_]+)'/g)].map((m) => m[1]);
    assert.ok(events.includes('subteam_members_changed'));
    for (const event of events)
      assert.ok(
        manifest.settings.event_subscriptions.bot_events.includes(event ?? ''),
        `${event} in bot_events`,
      );
  });
});
