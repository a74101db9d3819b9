// Raw HTTPS calls to the API server outside the generated client: the exec endpoint and streaming GETs.
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ExecEndpoint } from './exec.ts';
import { KubernetesError } from './types.ts';

export async function kubeEndpoint(kc: KubeConfig): Promise<ExecEndpoint> {
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new KubernetesError('other', 'the kubeconfig names no current cluster', {
      verb: 'connect',
      resource: 'cluster',
    });
  const options: Record<string, unknown> = {};
  await kc.applyToHTTPSOptions(options);
  return { server: cluster.server, options: options as ExecEndpoint['options'] };
}

/** A GET outside the generated client (metrics.k8s.io, logs) that hands back the response stream. */
export async function rawGet(
  kc: KubeConfig,
  path: string,
  query: Record<string, string>,
): Promise<IncomingMessage> {
  const { server, options } = await kubeEndpoint(kc);
  const url = new URL(server);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.search = new URLSearchParams(query).toString();
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { ...(options as RequestOptions), method: 'GET' }, resolve);
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer from the API server within 30s')));
    req.end();
  });
}

export async function rawFailure(res: IncomingMessage): Promise<{ code: number; body: string }> {
  let body = '';
  for await (const chunk of res) if (body.length < 64 * 1024) body += String(chunk);
  return { code: res.statusCode ?? 0, body };
}
