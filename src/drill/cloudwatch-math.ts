// CloudWatch metric math for the simulated GetMetricData: arithmetic, comparisons and IF() over the series of other
// query ids, evaluated per timestamp as CloudWatch does (a timestamp missing in any input is left out).

export class MathError extends Error {
  code = 'drill.cloudwatch.math';
}

type Node =
  | { kind: 'num'; value: number }
  | { kind: 'id'; name: string }
  | { kind: 'neg'; arg: Node }
  | { kind: 'bin'; op: string; left: Node; right: Node }
  | { kind: 'if'; cond: Node; then: Node; else: Node };

const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|[-+*/()<>,]))/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) throw new MathError(`unexpected "${text.slice(at).trim().slice(0, 12)}" at position ${at + 1}`);
    tokens.push(m[1] ?? m[2] ?? m[3] ?? '');
  }
  return tokens;
}

const LEVELS = [
  ['>', '<', '>=', '<=', '==', '!='],
  ['+', '-'],
  ['*', '/'],
];

export function parseExpression(text: string): Node {
  const search = /^\s*(SEARCH|SELECT)\b/i.exec(text);
  if (search)
    throw new MathError(
      `${search[1]?.toUpperCase()} queries (search expressions, Metrics Insights) are not simulated in the drill; name metrics with MetricStat and combine them with + - * /, comparisons and IF()`,
    );
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const expect = (t: string) => {
    if (tokens[i] !== t)
      throw new MathError(`expected "${t}" but found ${tokens[i] ? `"${tokens[i]}"` : 'the end'}`);
    i += 1;
  };
  function level(n: number): Node {
    if (n === LEVELS.length) return unary();
    let left = level(n + 1);
    while (LEVELS[n]?.includes(peek() ?? '')) {
      const op = tokens[i++] ?? '';
      left = { kind: 'bin', op, left, right: level(n + 1) };
    }
    return left;
  }
  function unary(): Node {
    if (peek() === '-') {
      i += 1;
      return { kind: 'neg', arg: unary() };
    }
    return primary();
  }
  function primary(): Node {
    const t = tokens[i++];
    if (t === undefined) throw new MathError('the expression ends too early');
    if (t === '(') {
      const inner = level(0);
      expect(')');
      return inner;
    }
    if (/^\d/.test(t)) return { kind: 'num', value: Number(t) };
    if (/^[A-Za-z_]/.test(t)) {
      if (peek() !== '(') return { kind: 'id', name: t };
      if (t.toUpperCase() !== 'IF')
        throw new MathError(
          `${t}() is not simulated in the drill (only + - * /, comparisons and IF() are); SEARCH and Metrics Insights are not either`,
        );
      expect('(');
      const cond = level(0);
      expect(',');
      const then = level(0);
      expect(',');
      const otherwise = level(0);
      expect(')');
      return { kind: 'if', cond, then, else: otherwise };
    }
    throw new MathError(`unexpected "${t}"`);
  }
  const node = level(0);
  if (i < tokens.length) throw new MathError(`unexpected "${tokens[i]}" after a complete expression`);
  return node;
}

/** The ids an expression reads. */
export function idsOf(node: Node): string[] {
  switch (node.kind) {
    case 'num':
      return [];
    case 'id':
      return [node.name];
    case 'neg':
      return idsOf(node.arg);
    case 'bin':
      return [...idsOf(node.left), ...idsOf(node.right)];
    case 'if':
      return [...idsOf(node.cond), ...idsOf(node.then), ...idsOf(node.else)];
  }
}

function apply(op: string, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '>':
      return a > b ? 1 : 0;
    case '<':
      return a < b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
    case '==':
      return a === b ? 1 : 0;
    default:
      return a !== b ? 1 : 0;
  }
}

function at(node: Node, values: Map<string, number>): number {
  switch (node.kind) {
    case 'num':
      return node.value;
    case 'id':
      return values.get(node.name) ?? NaN;
    case 'neg':
      return -at(node.arg, values);
    case 'bin':
      return apply(node.op, at(node.left, values), at(node.right, values));
    case 'if':
      return at(node.cond, values) !== 0 ? at(node.then, values) : at(node.else, values);
  }
}

/** A series: epoch seconds -> value. */
export type Series = Map<number, number>;

/**
 * Evaluates `node` at every timestamp all its inputs share (or at `times` when it reads none). Division by zero and
 * other non-finite results are dropped, as CloudWatch drops them.
 */
export function evaluate(node: Node, inputs: Map<string, Series>, times: number[]): Series {
  const ids = [...new Set(idsOf(node))];
  for (const id of ids) if (!inputs.has(id)) throw new MathError(`unknown metric id "${id}"`);
  const first = ids[0];
  const candidates = first ? [...(inputs.get(first)?.keys() ?? [])] : times;
  const out: Series = new Map();
  for (const t of candidates) {
    if (!ids.every((id) => inputs.get(id)?.has(t))) continue;
    const v = at(node, new Map(ids.map((id) => [id, inputs.get(id)?.get(t) ?? NaN])));
    if (Number.isFinite(v)) out.set(t, v);
  }
  return out;
}
