// Fault: the bot process (and the Terraform it runs) is SIGKILLed during `/sandbox up`; after a restart the apply is
// recognised as interrupted and the teardown removes everything Terraform's state holds, reporting the real count.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxRecord } from '../../src/sandbox.ts';
import { RedisStore } from '../../src/store/redis.ts';
import { getJson } from '../../src/store/store.ts';
import { TimelineLog } from '../../src/timeline-log.ts';
import { freePort, testRedisUrl } from '../support/redis.ts';
import { BOT_TOKEN, SIGNING_SECRET, sign } from '../support/slack.ts';
import { copyModule, listWorkspaces, pullState, type ModuleCopy } from '../support/terraform.ts';
import { startBotProcess, type BotProcess } from './lib/bot-process.ts';
import { CHANNEL, USERS } from './lib/fixtures.ts';
import { commandRequest, until, type SlackRequest } from './lib/http-bot.ts';
import { startLocalSlack, type LocalSlack } from './lib/slack-server.ts';

/** Every process below `pid` (Terraform, its provisioners), by parent id. */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    children = []; // pgrep exits 1 when there are none
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Instances per resource in the workspace's state, as Terraform reads it. */
function instancesInState(copy: ModuleCopy): number {
  return pullState(copy, 'inc-1').resources.reduce((n, r) => n + r.instances.length, 0);
}

describe('faults: bot killed during a sandbox apply (real child processes, real Terraform)', function () {
  this.timeout(180_000); // per kill point: two process start-ups and two Terraform runs on a busy 2-core machine
  let copy: ModuleCopy;
  let store: RedisStore;
  let prefix: string;
  let slack: LocalSlack;
  let env: NodeJS.ProcessEnv;
  let port: number;
  const procs: BotProcess[] = [];

  beforeEach(async () => {
    copy = copyModule('crash');
    prefix = `faults-sbx:${randomUUID().slice(0, 8)}:`;
    const redisUrl = await testRedisUrl();
    store = new RedisStore(redisUrl, { prefix });
    slack = await startLocalSlack({ channel: CHANNEL });
    const config = {
      access: {
        responders: ['@sre-oncall'],
        approvers: ['@sre-leads'],
        groups: { 'sre-oncall': ['U0ALICE', 'U0CAROL'], 'sre-leads': ['U0BOB', 'U0DAVE'] },
      },
      evidence: { dir: join(copy.work, 'evidence') },
      services: {
        payments: { sandbox: { terraform: { dir: copy.dir, vars: { step_seconds: 1 } }, ttl: '4h' } },
      },
    };
    const configPath = join(copy.dir, '..', 'cloud-safety.yml');
    writeFileSync(configPath, JSON.stringify(config, null, 2)); // JSON is YAML
    port = await freePort();
    env = {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      PORT: String(port),
      CLOUD_SAFETY_CONFIG: configPath,
      TERRAFORM_WORK_DIR: join(copy.work, 'bot'),
      LOG_LEVEL: 'info',
    };
  });

  afterEach(async () => {
    for (const p of procs.splice(0)) {
      const tree = descendants(p.pid);
      await p.kill('SIGKILL');
      tree.forEach(killPid);
    }
    await store.close();
    await slack.close();
    copy.cleanup();
  });

  async function start(): Promise<BotProcess> {
    const proc = await startBotProcess(env);
    procs.push(proc);
    await proc.waitForLine(/cloud-safety started/, 60_000);
    return proc;
  }

  async function send(req: SlackRequest): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
      method: 'POST',
      headers: { 'content-type': req.contentType, ...sign(req.body) },
      body: req.body,
    });
    assert.equal(res.status, 200);
  }

  async function command(user: keyof typeof USERS, name: string, text: string): Promise<string> {
    const req = commandRequest(slack, { command: name, text, user: USERS[user], channel: CHANNEL });
    await send(req);
    await until(() => assert.equal(slack.repliesTo(req.replyId).length, 1), 30_000);
    const reply = slack.repliesTo(req.replyId)[0]?.body;
    return `${reply?.text ?? ''}\n${JSON.stringify(reply?.blocks ?? [])}`;
  }

  const record = () => getJson<SandboxRecord>(store, 'sandbox:INC-1');
  const timeline = () => new TimelineLog(store, () => new Date()).read('INC-1');

  /** The crash: the bot and everything it started die at once, as when its container is killed. */
  async function crash(proc: BotProcess): Promise<void> {
    const tree = descendants(proc.pid);
    assert.ok(tree.length > 0, 'Terraform is running under the bot');
    const killed = await proc.kill('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    tree.forEach(killPid);
    // The dead bot's run lock is still in Redis and lapses on its own; move Redis's clock for it instead of
    // waiting (any key the dead process holds with a TTL).
    const keys = await store.redis.keys(`${prefix}*`);
    let lapsed = 0;
    for (const key of keys) {
      if ((await store.redis.type(key)) !== 'string' || (await store.redis.pttl(key)) <= 0) continue;
      if (!new RegExp(`-${proc.pid}-`).test((await store.redis.get(key)) ?? '')) continue;
      await store.redis.pexpire(key, 1);
      lapsed += 1;
    }
    assert.ok(lapsed > 0, 'the dead process held the run lock');
  }

  for (const killAfter of [1, 3, 5]) {
    it(`kill with ${killAfter} resource(s) in state: recognised as interrupted, teardown removes all of them`, async () => {
      const first = await start();
      assert.match(await command('alice', '/incident', 'declare payments sandbox crash drill'), /INC-1/);
      assert.match(await command('alice', '/sandbox', 'up'), /Standing up sandbox \*inc-1\*/);
      // Read the state only once the bot's Terraform wrote it: a probe run earlier would create the workspace itself.
      const stateFile = join(copy.dir, 'terraform.tfstate.d', 'inc-1', 'terraform.tfstate');
      await until(() => assert.ok(existsSync(stateFile) && instancesInState(copy) >= killAfter), 60_000);

      await crash(first);

      assert.equal((await record())?.state, 'creating', 'the dead bot never learned how the apply ended');
      const inState = instancesInState(copy);
      assert.ok(inState >= killAfter && inState < 6, `some but not all were created (${inState})`);

      await start();
      const status = await command('carol', '/sandbox', 'status');
      assert.match(status, /Apply interrupted \(the bot stopped while Terraform ran/);
      assert.equal((await record())?.state, 'failed');
      const interrupted = (await timeline()).find((e) => e.kind === 'sandbox.failed');
      assert.equal(interrupted?.data.stage, 'interrupted');

      assert.match(await command('carol', '/sandbox', 'down'), /Destroying sandbox \*inc-1\*/);
      await until(async () => assert.equal((await record())?.state, 'destroyed'), 60_000);

      // Terraform deletes a workspace only once its state is empty (the bot never passes -force).
      assert.deepEqual(listWorkspaces(copy), ['default']);
      const down = (await timeline()).find((e) => e.kind === 'sandbox.down');
      assert.equal(down?.data.removed, inState, 'the count is what the state held');
      // The record says destroyed a moment before the thread's message is posted: wait for the message.
      await until(() => {
        const thread = [...slack.messages.values()].map((m) => m.text).join('\n');
        assert.match(
          thread,
          new RegExp(`Sandbox \`inc-1\` is destroyed: ${inState} resource\\(s\\) removed`),
        );
      }, 15_000);
    });
  }
});
