// The logger: pino, with every line passed through the redactor so secrets never reach the output.
import { pino, type Logger, type DestinationStream } from 'pino';
import type { Redactor } from './redact.ts';

export type { Logger };

export function createLogger(
  redactor: Redactor,
  opts: { level?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { app: 'cloud-safety' },
      formatters: {
        log: (object) => redactor.value(object),
      },
      hooks: {
        // The message string is not covered by formatters.log.
        logMethod(args, method) {
          const scrubbed = args.map((arg) => (typeof arg === 'string' ? redactor.text(arg) : arg));
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    opts.destination ?? pino.destination({ dest: 2, sync: false }),
  );
}
