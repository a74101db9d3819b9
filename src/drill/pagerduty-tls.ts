// A throwaway certificate for the simulated Events API: pdjs only speaks https://<host>/v2/enqueue, so the drill serves
// it over TLS on 127.0.0.1 with a key made for this run (openssl), trusted only by the drill's own events adapter.
import { execFileSync } from 'node:child_process';
import { isIP } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DrillTls {
  key: string;
  cert: string;
}

/** A self-signed P-256 certificate for 127.0.0.1, valid two days; or why there is none (no openssl on PATH). */
export function drillCertificate(advertise = '127.0.0.1'): DrillTls | { missing: string } {
  // The name other replicas reach it by goes in the certificate too (an address as IP:, a host name as DNS:).
  const san = [
    'IP:127.0.0.1',
    ...(advertise === '127.0.0.1' ? [] : [`${isIP(advertise) ? 'IP' : 'DNS'}:${advertise}`]),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'cs-drill-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '2',
        '-subj',
        '/CN=cloud-safety drill PagerDuty Events',
        '-addext',
        `subjectAltName=${san.join(',')}`,
      ],
      { stdio: 'ignore', timeout: 15_000 },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } catch (err) {
    return {
      missing: `no openssl to make the simulated Events API's certificate (${(err as Error).message.split('\n')[0]}); install openssl for breaker pages in the drill`,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
