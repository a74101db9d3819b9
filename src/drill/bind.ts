// Where a drill's simulators listen, and the name other replicas reach them by (a drill's world lives in one process;
// the other replicas act on it through these addresses).
import { isIP } from 'node:net';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { ConfigError } from '../errors.ts';

export interface DrillBind {
  /** The address the servers listen on (default 127.0.0.1: this machine only). */
  host: string;
  /** The host name or address written into their URLs, for the other replicas. */
  advertise: string;
}

export const LOCAL_BIND: DrillBind = { host: '127.0.0.1', advertise: '127.0.0.1' };

/** An address as it goes in a URL: IPv6 in brackets. */
export function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/**
 * CLOUD_SAFETY_DRILL_BIND (listen address, default 127.0.0.1) and CLOUD_SAFETY_DRILL_ADVERTISE (the name other
 * replicas use; default the listen address, or this machine's host name when listening on every interface).
 */
export function drillBindFromEnv(env: NodeJS.ProcessEnv): DrillBind {
  const host = env.CLOUD_SAFETY_DRILL_BIND || LOCAL_BIND.host;
  if (isIP(host) === 0)
    throw new ConfigError(
      `CLOUD_SAFETY_DRILL_BIND=${host} is not an IP address to listen on; write 127.0.0.1 (this machine only, the default), 0.0.0.0 (every interface, so other replicas can reach a drill's simulators) or this pod's IP.`,
    );
  const any = host === '0.0.0.0' || host === '::';
  const advertise = env.CLOUD_SAFETY_DRILL_ADVERTISE || (any ? hostname() : host);
  if (!/^[A-Za-z0-9][A-Za-z0-9.:-]*$/.test(advertise))
    throw new ConfigError(
      `CLOUD_SAFETY_DRILL_ADVERTISE=${advertise} is not a host name or address; write the name other replicas reach this one by, e.g. the pod's IP or its headless-Service DNS name.`,
    );
  return { host, advertise };
}

/** A simulator's server listening: its advertised URL and port, and how to stop it (open connections closed). */
export interface Listening {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Listens on `bind.host` (port 0: a free one) and names the server by `bind.advertise`: every simulator's way in. */
export async function listenOn(
  server: Server,
  bind: DrillBind = LOCAL_BIND,
  opts: { port?: number; scheme?: 'http' | 'https' } = {},
): Promise<Listening> {
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, bind.host, () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `${opts.scheme ?? 'http'}://${urlHost(bind.advertise)}:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
