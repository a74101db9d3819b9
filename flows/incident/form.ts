// The declare form: `/incident declare` with no arguments opens it; its submission declares like the command does.
import type { FormHandler } from '../../src/bot.ts';
import type { IncidentCaps } from './caps.ts';
import type { Block, FormSubmission, View } from '../../src/chat/chat.ts';
import type { Config } from '../../src/config.ts';
import { parseSeverity } from '../../src/incident.ts';
import { runDeclare } from './command.ts';

export const DECLARE_FORM = 'incident.declare';

const text = (t: string) => ({ type: 'plain_text', text: t });
const option = (label: string, value: string) => ({ text: text(label), value });

function input(blockId: string, label: string, element: Record<string, unknown>, optional = false): Block {
  return {
    type: 'input',
    block_id: blockId,
    label: text(label),
    optional,
    element: { action_id: 'value', ...element },
  };
}

/** The modal. Slack caps a static_select at 100 options; more services than that are typed in the command. */
export function declareForm(config: Config, channel: string, declarer: string): View {
  const services = Object.keys(config.services).slice(0, 100);
  const severities = ['SEV1', 'SEV2', 'SEV3', 'SEV4', 'SEV5'];
  return {
    type: 'modal',
    callbackId: DECLARE_FORM,
    title: 'Declare an incident',
    submit: 'Declare',
    privateMetadata: JSON.stringify({ channel }),
    blocks: [
      input('service', 'Service', {
        type: 'static_select',
        placeholder: text('Which service is failing?'),
        options: services.map((s) => option(s, s)),
      }),
      input('severity', 'Severity', {
        type: 'static_select',
        options: severities.map((s) => option(s === 'SEV1' ? 'SEV1 (worst)' : s, s)),
        initial_option: option('SEV2', 'SEV2'),
      }),
      input('title', 'Title', {
        type: 'plain_text_input',
        max_length: 200,
        placeholder: text('Cloud pods OOMKilled, payments failing'),
      }),
      input('commander', 'Commander', { type: 'users_select', initial_user: declarer }, true),
      input(
        'channel',
        'Channel',
        {
          type: 'checkboxes',
          options: [
            option('Create a channel for this incident', 'new'),
            option('Make that channel private', 'private'),
          ],
          ...(config.incident.channels.create
            ? { initial_options: [option('Create a channel for this incident', 'new')] }
            : {}),
        },
        true,
      ),
    ],
  };
}

function one(value: string | string[] | undefined): string {
  return typeof value === 'string' ? value.trim() : '';
}

export const declareFormHandler: FormHandler<IncidentCaps> = {
  callbackId: DECLARE_FORM,
  firstBlock: 'service',
  check(sub: FormSubmission, deps) {
    const errors: Record<string, string> = {};
    let channel = '';
    try {
      const meta = JSON.parse(sub.privateMetadata) as { channel?: unknown };
      if (typeof meta.channel === 'string') channel = meta.channel;
    } catch {
      // Handled below: a form without its channel cannot say where it was declared.
    }
    if (!channel) errors.service = 'This form lost its channel; run /incident declare again.';
    const service = one(sub.values.service);
    if (!service) errors.service = 'Pick the service.';
    else if (!Object.hasOwn(deps.config.services, service))
      errors.service = `Unknown service; configured: ${Object.keys(deps.config.services).join(', ')}.`;
    const severity = parseSeverity(one(sub.values.severity));
    if (!severity) errors.severity = 'Pick a severity, SEV1 (worst) to SEV5.';
    const title = one(sub.values.title);
    if (!title) errors.title = 'Give the incident a one-line title.';
    else if (title.length > 200) errors.title = 'Keep the title under 200 characters.';
    const commanderId = one(sub.values.commander);
    const flags = Array.isArray(sub.values.channel) ? sub.values.channel : [];
    if (flags.includes('private') && !flags.includes('new'))
      errors.channel = 'A private channel needs "Create a channel" ticked too.';
    if (Object.keys(errors).length > 0 || !severity) return { errors };
    return {
      channel,
      async run(actor, respond) {
        const named =
          commanderId && commanderId !== actor.id ? await deps.chat.findUser(`<@${commanderId}>`) : null;
        await runDeclare(deps, actor, channel, respond, {
          service,
          title,
          severity,
          ownChannel: flags.includes('new'),
          isPrivate: flags.includes('private'),
          ...(named ? { commander: { type: 'user', id: named.id, name: named.name } } : {}),
        });
      },
    };
  },
};
