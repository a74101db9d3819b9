// A modal in the console: its input blocks asked one at a time as prompts, then submitted like Slack's view_submission.
import type { Block, View } from '../chat.ts';

interface Option {
  text: { text: string };
  value: string;
}

interface Field {
  blockId: string;
  label: string;
  kind: string;
  optional: boolean;
  options: Option[];
  initial: string | string[] | undefined;
}

function fieldOf(block: Block): Field | null {
  if (block.type !== 'input') return null;
  const b = block as {
    block_id?: string;
    label?: { text?: string };
    optional?: boolean;
    element?: Record<string, unknown>;
  };
  const el = b.element ?? {};
  const options = (Array.isArray(el.options) ? el.options : []) as Option[];
  const initial =
    (el.initial_option as Option | undefined)?.value ??
    (typeof el.initial_user === 'string' ? el.initial_user : undefined) ??
    (Array.isArray(el.initial_options) ? (el.initial_options as Option[]).map((o) => o.value) : undefined);
  return {
    blockId: b.block_id ?? '',
    label: b.label?.text ?? b.block_id ?? '',
    kind: typeof el.type === 'string' ? el.type : 'plain_text_input',
    optional: b.optional === true,
    options,
    initial,
  };
}

/** Walks a view's fields; `answer` takes the next line and says what to ask next, or that it is complete. */
export class ConsoleForm {
  readonly view: View;
  readonly values: Record<string, string | string[] | undefined> = {};
  #fields: Field[];
  #at = 0;

  constructor(view: View) {
    this.view = view;
    this.#fields = view.blocks.map(fieldOf).filter((f): f is Field => f !== null);
  }

  get done(): boolean {
    return this.#at >= this.#fields.length;
  }

  /** The prompt for the current field: its label, the choices, and what an empty answer keeps. */
  prompt(): string {
    const f = this.#fields[this.#at];
    if (!f) return '';
    const choices =
      f.options.length > 0
        ? ` [${f.options.map((o) => o.value).join(' | ')}${f.kind === 'checkboxes' ? ', several with commas, or none' : ''}]`
        : f.kind === 'users_select'
          ? ' [@name]'
          : '';
    const initial = Array.isArray(f.initial) ? f.initial.join(',') || 'none' : f.initial;
    const keep =
      initial !== undefined ? ` (empty: ${initial})` : f.optional ? ' (optional, empty: none)' : '';
    return `${this.view.title ?? 'Form'} · ${f.label}${choices}${keep}:`;
  }

  /** Records the answer to the current field (checking only its shape; the form's own check says the rest). */
  answer(line: string): string | null {
    const f = this.#fields[this.#at];
    if (!f) return null;
    const text = line.trim();
    let value: string | string[] | undefined;
    if (text === '') value = f.initial;
    else if (f.kind === 'checkboxes') {
      value = text === 'none' ? [] : text.split(/\s*,\s*/);
      const unknown = value.filter((v) => !f.options.some((o) => o.value === v));
      if (unknown.length > 0)
        return `${unknown.join(', ')}: choose from ${f.options.map((o) => o.value).join(', ')}, or none.`;
    } else if (f.options.length > 0) {
      const found = f.options.find(
        (o) =>
          o.value.toLowerCase() === text.toLowerCase() || o.text.text.toLowerCase() === text.toLowerCase(),
      );
      // An unknown choice goes through as typed: the form's check answers it with the configured ones.
      value = found?.value ?? text;
    } else if (f.kind === 'users_select') value = text.replace(/^@/, '');
    else value = text;
    this.values[f.blockId] = value;
    this.#at += 1;
    return null;
  }
}
