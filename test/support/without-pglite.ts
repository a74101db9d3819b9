// Preloaded with --import by a test: the process then cannot load the embedded PostgreSQL packages, exactly as
// Node answers when they are not installed (ERR_MODULE_NOT_FOUND), so the drill has neither PostgreSQL.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith('@electric-sql/pglite')) {
      const err = new Error(
        `Cannot find package '${specifier}' imported from ${context.parentURL ?? 'the drill'}`,
      ) as NodeJS.ErrnoException;
      err.code = 'ERR_MODULE_NOT_FOUND';
      throw err;
    }
    return nextResolve(specifier, context);
  },
});
