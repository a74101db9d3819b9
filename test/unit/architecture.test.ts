// The layer rules in eslint.config.js are enforced by `npm run lint`; these cases prove each rule fires (and
// that an allowed import passes), by linting a small file placed, virtually, in each layer.
import assert from 'node:assert/strict';
import { ESLint } from 'eslint';

const eslint = new ESLint();

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('architecture rules (eslint-plugin-boundaries)', function () {
  this.timeout(60_000);

  const cases: Array<[string, string, string, RegExp]> = [
    [
      'the domain imports no adapter',
      'src/zz-rule.ts',
      "import '../src/adapters/route53.ts';",
      /"domain".*"adapter"/,
    ],
    ['the domain imports no chat', 'src/zz-rule.ts', "import '../src/chat/chat.ts';", /"domain".*"chat"/],
    [
      'the domain imports no step',
      'src/zz-rule.ts',
      "import '../flows/contain/contain.ts';",
      /"domain".*"step"/,
    ],
    [
      'the domain imports no store implementation',
      'src/zz-rule.ts',
      "import './store/redis.ts';",
      /"domain".*"store"/,
    ],
    [
      'an adapter imports no step',
      'src/adapters/zz-rule.ts',
      "import '../../flows/contain/contain.ts';",
      /"adapter".*"step"/,
    ],
    [
      'an adapter imports no chat',
      'src/adapters/zz-rule.ts',
      "import '../chat/chat.ts';",
      /"adapter".*"chat"/,
    ],
    [
      'chat blocks import no adapter',
      'src/chat/blocks/zz-rule.ts',
      "import '../../adapters/route53.ts';",
      /"chat".*"adapter"/,
    ],
    [
      'a step imports no transport',
      'flows/zz-rule.ts',
      "import '../src/chat/slack/app.ts';",
      /"step".*"transport"/,
    ],
    [
      'a step reaches another step only through its index.ts, not a file inside it',
      'flows/canary/zz-rule.ts',
      "import '../breaker/state.ts';",
      /"step".*"step".*step="breaker"/,
    ],
    [
      "the step list reaches a step's command file only through the step's entry",
      'commands/zz-rule.ts',
      "import '../flows/incident/command.ts';",
      /"commands".*"step".*step="incident"/,
    ],
  ];
  for (const [name, file, code, expected] of cases) {
    it(name, async () => {
      const found = await problems(file, code);
      assert.ok(
        found.some((m) => m.startsWith('boundaries/dependencies') && expected.test(m)),
        found.join('\n') || 'no problem reported',
      );
    });
  }

  it("allowed imports pass: inside one step folder, and another step's index.ts", async () => {
    const code = [
      "import { getBreaker } from '../breaker/index.ts';",
      "import { getCanary } from './state.ts';",
      'export const all = [getBreaker, getCanary];',
    ].join('\n');
    assert.deepEqual(
      (await problems('flows/canary/zz-rule.ts', code)).filter((m) => m.startsWith('boundaries')),
      [],
    );
  });

  it('only the Slack transport imports Bolt', async () => {
    const code = "import type { App } from '@slack/bolt';\nexport type A = App;\n";
    assert.ok((await problems('flows/zz-rule.ts', code)).some((m) => m.startsWith('no-restricted-imports')));
    assert.deepEqual(await problems('src/chat/slack/zz-rule.ts', code), []);
  });

  it('allowed imports pass: a step may use the domain, chat and adapters', async () => {
    const code = [
      "import { parseDuration } from '../src/duration.ts';",
      "import { truncate } from '../src/chat/blocks/kit.ts';",
      "import { Route53TrafficAdapter } from '../src/adapters/route53.ts';",
      'export const all = [parseDuration, truncate, Route53TrafficAdapter];',
    ].join('\n');
    assert.deepEqual(
      (await problems('flows/zz-rule.ts', code)).filter((m) => m.startsWith('boundaries')),
      [],
    );
  });
});
