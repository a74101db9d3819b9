// Mocha root hooks: no real network (loopback only), and the shared Redis is stopped at the end.
import nock from 'nock';
import { stopSharedRedis } from './redis.ts';

nock.disableNetConnect();
nock.enableNetConnect(
  (host) => host.startsWith('127.0.0.1') || host.startsWith('localhost') || host.startsWith('[::1]'),
);

export const mochaHooks = {
  async afterAll() {
    await stopSharedRedis();
  },
};
