// Which input variables a root module requires and which the bot's run provides, read before Terraform runs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Index of the quote closing the string that opens at `start`, skipping `${ … }` with strings of their own. */
function stringEnd(text: string, start: number): number {
  let j = start + 1;
  let depth = 0;
  while (j < text.length) {
    const c = text[j];
    if (c === '\\') {
      j += 2;
    } else if (c === '$' && text[j + 1] === '{') {
      depth += 1;
      j += 2;
    } else if (depth > 0 && c === '"') {
      j = stringEnd(text, j) + 1;
    } else if (depth > 0 && c === '}') {
      depth -= 1;
      j += 1;
    } else if (depth === 0 && c === '"') {
      return j;
    } else {
      j += 1;
    }
  }
  return text.length;
}

/**
 * The text with comments removed and the inside of every string and heredoc blanked (same length, so offsets
 * still point into the original): braces and `=` inside strings no longer count as syntax.
 */
export function hclSkeleton(text: string): string {
  const out = text.split('');
  let i = 0;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"') {
      const j = stringEnd(text, i);
      blank(i + 1, j);
      i = j + 1;
    } else if (c === '<' && text[i + 1] === '<') {
      const marker = /^<<-?([A-Za-z_][A-Za-z0-9_]*)[ \t]*\n/.exec(text.slice(i));
      if (!marker?.[1]) {
        i += 2;
        continue;
      }
      const lines = text.slice(i + marker[0].length).split('\n');
      let offset = i + marker[0].length;
      for (const line of lines) {
        if (line.trim() === marker[1]) break;
        offset += line.length + 1;
      }
      blank(i + marker[0].length, offset);
      i = offset;
    } else {
      i += 1;
    }
  }
  return out.join('');
}

/** `variable "x" { … }` blocks without a `default`: the variables Terraform refuses to plan without. */
export function requiredVariables(hcl: string): string[] {
  const skeleton = hclSkeleton(hcl);
  const required: string[] = [];
  const opening = /\bvariable\s+"\s*"\s*\{/g;
  for (let m = opening.exec(skeleton); m; m = opening.exec(skeleton)) {
    const nameStart = skeleton.indexOf('"', m.index) + 1;
    const name = hcl.slice(nameStart, skeleton.indexOf('"', nameStart)).trim();
    let depth = 0;
    let topLevel = '';
    let end = m.index + m[0].length - 1;
    for (; end < skeleton.length; end++) {
      const c = skeleton[end];
      if (c === '{' || c === '[' || c === '(') depth += 1;
      else if (c === '}' || c === ']' || c === ')') depth -= 1;
      else if (depth === 1) topLevel += c;
      if (depth === 0) break;
    }
    if (name && !/(^|\n)\s*default\s*=/.test(topLevel)) required.push(name);
    opening.lastIndex = end;
  }
  return required;
}

/** Top-level names assigned in a `.tfvars` file (HCL) or a `.tfvars.json` file. */
export function tfvarsNames(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  if (path.endsWith('.json')) {
    try {
      return Object.keys(JSON.parse(text) as Record<string, unknown>);
    } catch {
      return [];
    }
  }
  const skeleton = hclSkeleton(text);
  const names: string[] = [];
  let depth = 0;
  let line = '';
  for (const c of `${skeleton}\n`) {
    if (c === '{' || c === '[' || c === '(') depth += 1;
    else if (c === '}' || c === ']' || c === ')') depth -= 1;
    if (c === '\n') {
      const m = /^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=/.exec(line);
      if (m?.[1]) names.push(m[1]);
      line = '';
    } else if (depth === 0 || (depth === 1 && (c === '{' || c === '[' || c === '('))) {
      line += c;
    }
  }
  return names;
}

/** Required variables of the root module in `dir` that no source of values provides. */
export function missingVariables(
  dir: string,
  provided: { names: Iterable<string>; varFiles: string[]; env: NodeJS.ProcessEnv },
): string[] {
  const files = readdirSync(dir);
  const required = new Set<string>();
  for (const file of files) {
    if (file.endsWith('.tf')) {
      for (const name of requiredVariables(readFileSync(join(dir, file), 'utf8'))) required.add(name);
    } else if (file.endsWith('.tf.json')) {
      try {
        const parsed = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
          variable?: Record<string, { default?: unknown }>;
        };
        for (const [name, v] of Object.entries(parsed.variable ?? {})) {
          if (v === null || typeof v !== 'object' || !('default' in v)) required.add(name);
        }
      } catch {
        // Terraform itself reports a file it cannot parse, with the line.
      }
    }
  }
  const have = new Set(provided.names);
  // Terraform loads these on its own from the module directory.
  const autoFiles = files
    .filter((f) => /^terraform\.tfvars(\.json)?$|\.auto\.tfvars(\.json)?$/.test(f))
    .map((f) => join(dir, f));
  for (const file of [...autoFiles, ...provided.varFiles]) {
    if (existsSync(file)) for (const name of tfvarsNames(file)) have.add(name);
  }
  for (const key of Object.keys(provided.env)) {
    if (key.startsWith('TF_VAR_') && provided.env[key] !== undefined) have.add(key.slice('TF_VAR_'.length));
  }
  return [...required].filter((name) => !have.has(name)).sort();
}
