// Node's compile cache for the `node src/main.ts` processes tests start: the first child compiles the sources (type
// stripping included) and writes the V8 code cache here; the dozens after it start from it. Node checks each entry
// against the source's hash, so an edited file is compiled afresh. The bot does not see this variable.
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NODE_CACHE_ENV = { NODE_COMPILE_CACHE: join(tmpdir(), 'cloud-safety-test-node-cache') };
