// The panel's safety rules in /preflight: each listed with its type and threshold, each evaluated against the
// current control states for the shift (legacy On, cloud Off), and the config's break-glass list checked against them.
import type { ArcTraffic } from '../config.ts';
import type { ArcControl } from './arc-checks.ts';
import type { PanelSafetyRule } from './arc-control-config.ts';
import type { LayerCheck } from './traffic.ts';

type OnOff = 'On' | 'Off';

export interface RuleVerdict {
  rule: PanelSafetyRule;
  /** false: the rule would refuse the change; undefined: it cannot be told (a control's state is unknown). */
  allows: boolean | undefined;
  why: string;
}

const short = (arn: string) => arn.split('/').pop() ?? arn;

/** "at least 2 of 3 On", "all 2 On", "at least one of 2 On", negated when the rule is inverted. */
function needs(rule: PanelSafetyRule, of: number): string {
  const base =
    rule.type === 'ATLEAST'
      ? `at least ${rule.threshold} of ${of} On`
      : rule.type === 'AND'
        ? `all ${of} On`
        : rule.type === 'OR'
          ? `at least one of ${of} On`
          : `${rule.type} ${rule.threshold} (a rule type the bot does not know)`;
  return rule.inverted ? `NOT (${base})` : base;
}

/** Whether states satisfy the rule's config; undefined when a state is unknown or the type is new. */
function holds(rule: PanelSafetyRule, states: (OnOff | undefined)[]): boolean | undefined {
  if (states.some((s) => s === undefined)) return undefined;
  const on = states.filter((s) => s === 'On').length;
  const met =
    rule.type === 'ATLEAST'
      ? on >= rule.threshold
      : rule.type === 'AND'
        ? on === states.length
        : rule.type === 'OR'
          ? on >= 1
          : undefined;
  if (met === undefined) return undefined;
  return rule.inverted ? !met : met;
}

/**
 * Would each rule let `change` through from `states`? An assertion rule checks its asserted controls' states after
 * the change, when the change moves one of them; a gating rule lets its target controls move only while its gating
 * controls (as they are now) satisfy its config. A rule being deleted no longer applies.
 */
export function evaluateRules(
  rules: PanelSafetyRule[],
  controls: ArcControl[],
  change: Record<string, OnOff>,
): RuleVerdict[] {
  const before = new Map(controls.map((c) => [c.arn, c]));
  const after = (arn: string): OnOff | undefined => change[arn] ?? before.get(arn)?.state;
  const moves = (arn: string) => change[arn] !== undefined && change[arn] !== before.get(arn)?.state;
  const label = (arn: string, state: OnOff | undefined) =>
    `${before.get(arn)?.name ?? short(arn)} ${state ?? 'state unknown'}`;
  return rules.map((rule): RuleVerdict => {
    if (rule.status === 'PENDING_DELETION')
      return { rule, allows: true, why: 'being deleted: no longer applies' };
    if (rule.kind === 'assertion') {
      if (!rule.asserted.some(moves))
        return { rule, allows: true, why: 'the shift moves none of its controls' };
      const states = rule.asserted.map(after);
      const allows = holds(rule, states);
      const list = rule.asserted.map((arn, i) => label(arn, states[i])).join(', ');
      return {
        rule,
        allows,
        why: `after the shift ${list}; the rule needs ${needs(rule, rule.asserted.length)}`,
      };
    }
    if (!rule.targets.some(moves))
      return { rule, allows: true, why: 'the shift moves none of its target controls' };
    const states = rule.gating.map((arn) => before.get(arn)?.state);
    const allows = holds(rule, states);
    const list = rule.gating.map((arn, i) => label(arn, states[i])).join(', ');
    return {
      rule,
      allows,
      why: `gating controls now ${list}; its targets may change only with ${needs(rule, rule.gating.length)}`,
    };
  });
}

function describe(rule: PanelSafetyRule): string {
  const of = rule.kind === 'assertion' ? rule.asserted.length : rule.gating.length;
  const pending = rule.status === 'DEPLOYED' ? '' : `, ${rule.status}`;
  return `${rule.name} (${rule.kind}, ${rule.type}${rule.type === 'ATLEAST' ? ` ${rule.threshold}` : ''} of ${of}${rule.inverted ? ', inverted' : ''}${pending})`;
}

/** The checks /preflight shows from the panel's rules (or, when they cannot be read, why not). */
export function panelRuleChecks(
  config: ArcTraffic,
  rules: PanelSafetyRule[] | Error,
  controls: ArcControl[] | undefined,
): LayerCheck[] {
  const shift = `legacy ${short(config.legacyRoutingControlArn)} On + cloud ${short(config.cloudRoutingControlArn)} Off`;
  const title = `ARC safety rules of the control panel allow ${shift}`;
  if (rules instanceof Error) {
    return [
      {
        id: 'arc-panel-rules',
        title,
        status: 'warn',
        detail: `could not read the panel's safety rules: ${rules.message}. Only the rules named in traffic.arc.safetyRules are known.`,
        fix: "Let the bot call route53-recovery-control-config:ListSafetyRules (us-west-2) so /preflight can tell whether a rule would refuse the shift; meanwhile check the panel's rules in the ARC console.",
      },
    ];
  }
  const checks: LayerCheck[] = [];
  const breakGlass = new Set(config.safetyRules.map((r) => r.arn));
  if (!controls) {
    checks.push({
      id: 'arc-panel-rules',
      title,
      status: 'warn',
      detail: `${rules.map(describe).join('; ') || 'no safety rules'}; not evaluated: the routing control states could not be read`,
    });
  } else {
    const verdicts = evaluateRules(rules, controls, {
      [config.legacyRoutingControlArn]: 'On',
      [config.cloudRoutingControlArn]: 'Off',
    });
    const refuse = verdicts.filter((v) => v.allows === false);
    const unknown = verdicts.filter((v) => v.allows === undefined);
    const lines = verdicts.map(
      (v) =>
        `${describe(v.rule)}: ${v.allows === false ? 'WOULD REFUSE' : v.allows ? 'allows' : 'cannot tell'} (${v.why})`,
    );
    const overridable = refuse.filter((v) => breakGlass.has(v.rule.arn)).map((v) => v.rule.name);
    const standing = refuse.filter((v) => !breakGlass.has(v.rule.arn)).map((v) => v.rule.name);
    checks.push({
      id: 'arc-panel-rules',
      title,
      status: refuse.length > 0 || unknown.length > 0 ? 'warn' : 'pass',
      detail:
        rules.length === 0
          ? 'the panel has no safety rules: every shift is allowed'
          : `${refuse.length > 0 ? `${refuse.map((v) => v.rule.name).join(', ')} would refuse the shift now. ` : ''}${lines.join('; ')}`,
      ...(refuse.length > 0
        ? {
            fix: [
              standing.length > 0
                ? `${standing.join(', ')} would refuse even under break-glass (not in traffic.arc.safetyRules): set the controls it asserts first, or list it there if the team agrees an emergency may skip it.`
                : '',
              overridable.length > 0
                ? `${overridable.join(', ')} may be overridden only by /contain break-glass="<reason>" (listed in traffic.arc.safetyRules).`
                : '',
            ]
              .filter(Boolean)
              .join(' '),
          }
        : unknown.length > 0
          ? {
              fix: 'A rule names a control whose state could not be read, or a rule type the bot does not know: check it in the ARC console.',
            }
          : {}),
    });
  }
  const onPanel = new Set(rules.map((r) => r.arn));
  const missing = config.safetyRules.filter((r) => !onPanel.has(r.arn));
  if (missing.length > 0) {
    checks.push({
      id: 'arc-safety-rules-config',
      title: 'traffic.arc.safetyRules are rules of the control panel',
      status: 'warn',
      detail: `${missing.map((r) => `${r.name} (${short(r.arn)})`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not a safety rule of control panel ${short(config.controlPanelArn)}: break-glass would ask ARC to override a rule it does not have`,
      fix: `Correct the ARN or remove the entry. The panel's rules: ${rules.map((r) => `${r.name} ${r.arn}`).join(', ') || 'none'}.`,
    });
  }
  return checks;
}
