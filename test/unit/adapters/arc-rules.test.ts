// Safety rule evaluation for the shift (legacy On, cloud Off): each RuleConfig type, Inverted, gating, rules that do
// not apply; and the refusal's words naming the rule from the ARN in ARC's message.
import assert from 'node:assert/strict';
import { safetyRefusal, type ArcControl } from '../../../src/adapters/arc-checks.ts';
import type { PanelSafetyRule } from '../../../src/adapters/arc-control-config.ts';
import { evaluateRules } from '../../../src/adapters/arc-rules.ts';
import { ArcTraffic } from '../../../src/config.ts';

const PANEL = 'arn:aws:route53-recovery-control::111122223333:controlpanel/0123456789abcdef0123456789abcdef';
const LEGACY = `${PANEL}/routingcontrol/aaaa`;
const CLOUD = `${PANEL}/routingcontrol/bbbb`;
const OTHER = `${PANEL}/routingcontrol/cccc`;
const GATE = `${PANEL}/routingcontrol/dddd`;

const controls = (gate: 'On' | 'Off'): ArcControl[] => [
  { arn: LEGACY, name: 'legacy', state: 'Off' },
  { arn: CLOUD, name: 'cloud', state: 'On' },
  { arn: OTHER, name: 'other', state: 'Off' },
  { arn: GATE, name: 'gate', state: gate },
];
const SHIFT = { [LEGACY]: 'On', [CLOUD]: 'Off' } as const;

function rule(extra: Partial<PanelSafetyRule>): PanelSafetyRule {
  return {
    arn: `${PANEL}/safetyrule/0001`,
    name: 'r',
    kind: 'assertion',
    type: 'ATLEAST',
    threshold: 1,
    inverted: false,
    asserted: [],
    gating: [],
    targets: [],
    status: 'DEPLOYED',
    ...extra,
  };
}

const verdict = (r: Partial<PanelSafetyRule>, gate: 'On' | 'Off' = 'On') =>
  evaluateRules([rule(r)], controls(gate), SHIFT)[0]?.allows;

describe('ARC safety rule evaluation for legacy On + cloud Off', () => {
  it('ATLEAST counts the asserted controls On after the shift', () => {
    assert.equal(verdict({ asserted: [LEGACY, CLOUD], threshold: 1 }), true);
    assert.equal(verdict({ asserted: [LEGACY, CLOUD, OTHER], threshold: 2 }), false);
    assert.equal(verdict({ asserted: [CLOUD], threshold: 1 }), false);
  });

  it('AND needs every asserted control On; OR needs one', () => {
    assert.equal(verdict({ type: 'AND', asserted: [LEGACY, CLOUD] }), false);
    assert.equal(verdict({ type: 'AND', asserted: [LEGACY, GATE] }), true);
    assert.equal(verdict({ type: 'OR', asserted: [CLOUD, OTHER] }), false);
    assert.equal(verdict({ type: 'OR', asserted: [LEGACY, OTHER] }), true);
  });

  it('Inverted negates the rule', () => {
    assert.equal(verdict({ asserted: [LEGACY, CLOUD], threshold: 2, inverted: true }), true);
    assert.equal(verdict({ type: 'OR', asserted: [LEGACY], inverted: true }), false);
  });

  it('a gating rule lets its targets move only while its gating controls satisfy it now', () => {
    const gating = { kind: 'gating' as const, type: 'AND', gating: [GATE], targets: [LEGACY, CLOUD] };
    assert.equal(verdict(gating, 'On'), true);
    assert.equal(verdict(gating, 'Off'), false);
    assert.equal(verdict({ ...gating, inverted: true }, 'Off'), true);
  });

  it('a rule that the shift does not touch, or that is being deleted, does not refuse it', () => {
    assert.equal(verdict({ asserted: [OTHER], threshold: 1 }), true, 'other is Off, but the shift leaves it');
    assert.equal(verdict({ kind: 'gating', type: 'AND', gating: [GATE], targets: [OTHER] }, 'Off'), true);
    assert.equal(verdict({ asserted: [CLOUD], status: 'PENDING_DELETION' }), true);
  });

  it('cannot tell when a control state is unknown or the rule type is new', () => {
    const ghost = `${PANEL}/routingcontrol/eeee`;
    assert.equal(verdict({ asserted: [LEGACY, ghost], threshold: 2 }), undefined);
    assert.equal(verdict({ type: 'MAJORITY', asserted: [LEGACY, CLOUD] }), undefined);
  });
});

describe('ARC refusal in words', () => {
  const config = ArcTraffic.parse({
    controlPanelArn: PANEL,
    legacyRoutingControlArn: LEGACY,
    cloudRoutingControlArn: CLOUD,
    clusterEndpoints: [{ endpoint: 'https://a.example.com/v1', region: 'us-east-1' }],
    safetyRules: [{ arn: `${PANEL}/safetyrule/0001`, name: 'keep-one-region' }],
  });

  it('names the rule whose ARN ARC gave, and whether break-glass may override it', () => {
    assert.match(
      safetyRefusal(config, `blocked by safety rule ${PANEL}/safetyrule/0001`, { breakGlass: false }),
      /The rule that refused: keep-one-region \(0001\), which break-glass may override\./,
    );
    assert.match(
      safetyRefusal(config, `blocked by ${PANEL}/safetyrule/0002`, { breakGlass: false }),
      /The rule that refused: 0002, not in traffic\.arc\.safetyRules, so break-glass cannot override it\./,
    );
  });

  it('a ConflictException that names no rule may be a concurrent change: says to read and retry', () => {
    assert.match(
      safetyRefusal(config, 'There was a conflict with this request. Try again.', { breakGlass: false }),
      /ARC named no safety rule, so this may be a conflict with another change made at the same moment: run \/preflight to read the controls, then \/contain again\./,
    );
  });
});
