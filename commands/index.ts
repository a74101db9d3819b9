// Every slash command the app registers; manifest.yml must list exactly these (a test checks).
import type { CommandSpec } from './command.ts';
import { incidentCommand, setHelpRegistry } from './incident.ts';
import { telemetryCommand } from './telemetry.ts';
import { timelineCommand } from './timeline.ts';

export const COMMANDS: CommandSpec[] = [incidentCommand, telemetryCommand, timelineCommand];

setHelpRegistry(() => COMMANDS);

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
