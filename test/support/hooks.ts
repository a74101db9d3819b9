// Mocha root hooks: no real network (loopback only); the shared Redis and PostgreSQL are cleaned up at the end.
import nock from 'nock';
import { dropTemplates } from './ledger-seed.ts';
import { stopSharedPostgres } from './postgres.ts';
import { stopSharedRedis } from './redis.ts';

nock.disableNetConnect();
nock.enableNetConnect(
  (host) => host.startsWith('127.0.0.1') || host.startsWith('localhost') || host.startsWith('[::1]'),
);

export const mochaHooks = {
  async afterAll() {
    await stopSharedRedis();
    await dropTemplates();
    await stopSharedPostgres();
  },
};
