// A TCP probe from one pod to another over exec: does traffic between them flow (the test of a NetworkPolicy fence)?
import { ExecError, type ExecParams, type ExecResult, type TcpProbe } from './types.ts';

/** Seconds nc waits for the connection: a fence that drops packets shows as this timeout. */
const CONNECT_TIMEOUT_S = 3;

/**
 * Runs `nc -z` (or bash's /dev/tcp) in `from` against ip:port. Exit 0: the connection was made. Exit 1: it was not
 * (dropped or refused). Anything else: the probe itself could not run, which says nothing about the network.
 */
export async function probeTcp(
  exec: (params: ExecParams) => Promise<ExecResult>,
  from: { namespace: string; pod: string; container: string },
  ip: string,
  port: number,
  opts: { waitFirstS?: number } = {},
): Promise<TcpProbe> {
  if (!/^[0-9a-fA-F:.]+$/.test(ip) || !Number.isInteger(port)) {
    return { result: 'unavailable', reason: `"${ip}:${port}" is not an address to probe` };
  }
  const nc = `nc -z -w ${CONNECT_TIMEOUT_S} ${ip} ${port}`;
  const bash = `timeout ${CONNECT_TIMEOUT_S} bash -c '</dev/tcp/${ip}/${port}'`;
  const script =
    `${opts.waitFirstS ? `sleep ${opts.waitFirstS}; ` : ''}` +
    `if command -v nc >/dev/null 2>&1; then ${nc} || exit 1; ` +
    `elif command -v bash >/dev/null 2>&1; then ${bash} || exit 1; ` +
    `else echo 'neither nc nor bash in the image' >&2; exit 127; fi`;
  try {
    const result = await exec({ ...from, command: ['sh', '-c', script], timeoutMs: 60_000 });
    if (result.exitCode === 0) return { result: 'reached' };
    if (result.exitCode === 1) return { result: 'blocked' };
    return {
      result: 'unavailable',
      reason: `the probe in ${from.pod} exited with ${result.exitCode}${result.stderr.trim() ? `: ${result.stderr.trim().slice(0, 160)}` : ''}`,
    };
  } catch (err) {
    const why = err instanceof ExecError ? err.message : String(err);
    return { result: 'unavailable', reason: `could not run a probe in ${from.pod}: ${why}` };
  }
}
