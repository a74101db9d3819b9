// The Route 53 traffic adapter: reads, shifts (DELETE+CREATE ChangeBatch, compare-and-swap) and follows to INSYNC.
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  GetHealthCheckStatusCommand,
  type Change,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { Route53Traffic } from '../config.ts';
import { ExternalServiceError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { NotWrittenError, observeAfterFailure } from '../outcome.ts';
import type { Metrics } from '../metrics.ts';
import {
  awsError,
  callAws,
  DEFAULT_RETRY,
  realSleep,
  unexpectedAwsError,
  type RetryPolicy,
} from './aws-retry.ts';
import { unlimitedAccount, type Route53Account } from './route53-account.ts';
import { mapWriteError } from './route53-errors.ts';
import { listWeighted } from './route53-list.ts';
import { defaultPollInterval, type Route53Options } from './route53-options.ts';
import { healthOf } from './route53-health.ts';
import { syncMarker } from './route53-marker.ts';
import { COMMENT_MAX, ROUTE53_MAX_WEIGHT, stateOf, stripChangeId, toRecordSet } from './route53-records.ts';
import {
  assertWritable,
  fingerprintOf,
  TrafficDriftError,
  TrafficRejectedError,
  type HealthReport,
  type RecheckReport,
  type Route53Snapshot,
  type ShiftReceipt,
  type SyncProgress,
  type SyncResult,
  type TrafficPort,
  type TrafficState,
  type WeightedRecord,
  type Weights,
} from './traffic.ts';
import { describeFailure, mayHaveCommitted } from './write-outcome.ts';

export class Route53TrafficAdapter implements TrafficPort {
  readonly layer = 'route53' as const;
  readonly resource: string;
  readonly lockKey: string;
  #client: Route53Client;
  #config: Route53Traffic;
  #metrics: Metrics;
  #log: Logger;
  #policy: RetryPolicy;
  #now: () => Date;
  #pollInterval: (poll: number) => number;
  #syncTimeoutMs: number;
  #account: Route53Account;
  #zoneWaitMs: number;

  constructor(opts: Route53Options) {
    this.#client = opts.client;
    this.#config = opts.config;
    this.#metrics = opts.metrics;
    this.#log = opts.log;
    this.#policy = {
      ...DEFAULT_RETRY,
      sleep: opts.sleep ?? realSleep,
      random: opts.random ?? Math.random,
    };
    this.#now = opts.now ?? (() => new Date());
    this.#pollInterval = opts.pollIntervalMs ?? defaultPollInterval;
    this.#syncTimeoutMs = opts.syncTimeoutMs ?? 15 * 60_000;
    this.#account = opts.account ?? unlimitedAccount();
    this.#zoneWaitMs = opts.zoneWaitMs ?? 3 * 60_000;
    this.resource = `${opts.config.recordName} ${opts.config.recordType} (zone ${opts.config.hostedZoneId})`;
    this.lockKey = `route53:${opts.config.hostedZoneId}`;
  }

  #call<T>(operation: string, write: boolean, fn: () => Promise<T>, onAttempts?: (n: number) => void) {
    return callAws(
      {
        service: 'Route 53',
        adapter: 'route53',
        operation,
        write,
        policy: this.#policy,
        metrics: this.#metrics,
        log: this.#log,
        ...(onAttempts ? { onAttempts } : {}),
      },
      // Every try, retries included, spends the account's budget: Route 53 counts them all.
      async () => {
        await this.#account.take();
        return fn();
      },
    );
  }

  /** Every weighted record of the configured name and type, following ListResourceRecordSets' pages. */
  #listWeighted(): Promise<WeightedRecord[]> {
    return listWeighted(this.#config, this.resource, (fn) =>
      this.#call('ListResourceRecordSets', false, () => this.#client.send(fn())),
    );
  }

  async read(): Promise<TrafficState> {
    const { recordName, recordType, legacy, cloud, hostedZoneId } = this.#config;
    const records = (await this.#listWeighted()).sort((a, b) =>
      a.setIdentifier.localeCompare(b.setIdentifier),
    );
    const legacyRecord = records.find((r) => r.setIdentifier === legacy);
    const cloudRecord = records.find((r) => r.setIdentifier === cloud);
    if (!legacyRecord || !cloudRecord) {
      const missing = [legacyRecord ? null : `legacy "${legacy}"`, cloudRecord ? null : `cloud "${cloud}"`]
        .filter(Boolean)
        .join(' and ');
      const seen = records.map((r) => `"${r.setIdentifier}"`).join(', ') || 'none';
      throw new ExternalServiceError(
        'Route 53',
        `no weighted ${recordName} ${recordType} record with SetIdentifier ${missing} in zone ${hostedZoneId} (weighted SetIdentifiers found: ${seen}). Check traffic.route53 in cloud-safety.yml.`,
      );
    }
    const snapshot: Route53Snapshot = { kind: 'route53', hostedZoneId, records };
    return stateOf(snapshot, this.#config, this.resource);
  }

  async checkLegacyHealth(state: TrafficState): Promise<HealthReport> {
    const id = state.legacy.healthCheckId;
    if (!id) {
      const record = this.#record(state, this.#config.legacy);
      return {
        status: 'unchecked',
        detail: record?.alias?.evaluateTargetHealth
          ? 'no health check on the legacy record; Route 53 evaluates the alias target’s health itself'
          : 'no health check attached to the legacy record',
      };
    }
    let out;
    try {
      out = await this.#call('GetHealthCheckStatus', false, () =>
        this.#client.send(new GetHealthCheckStatusCommand({ HealthCheckId: id })),
      );
    } catch (err) {
      const info = awsError(err);
      this.#log.warn({ healthCheckId: id, code: info.code }, 'could not read the legacy health check');
      return {
        status: 'unknown',
        detail: `could not read health check ${id} (${info.code}: ${info.message}); calculated health checks can only be seen in the console`,
      };
    }
    return healthOf(id, out.HealthCheckObservations ?? []);
  }

  #record(state: TrafficState, setIdentifier: string): WeightedRecord | undefined {
    return state.snapshot.kind === 'route53'
      ? state.snapshot.records.find((r) => r.setIdentifier === setIdentifier)
      : undefined;
  }

  async shift(expected: TrafficState, to: Weights, opts: { comment: string }): Promise<ShiftReceipt> {
    if (expected.snapshot.kind !== 'route53') throw new Error('not a Route 53 state');
    assertWritable(to, expected.others, ROUTE53_MAX_WEIGHT);
    const legacyRecord = this.#record(expected, this.#config.legacy);
    const cloudRecord = this.#record(expected, this.#config.cloud);
    if (!legacyRecord || !cloudRecord) throw new Error('state without the legacy/cloud records');
    if (legacyRecord.trafficPolicyInstanceId || cloudRecord.trafficPolicyInstanceId) {
      throw new TrafficRejectedError(
        'route53',
        'TrafficPolicyInstance',
        'these records were created by a Route 53 traffic policy and can only be changed through it; shift them in the Route 53 console or with the traffic policy',
      );
    }
    const next = { ...legacyRecord, weight: to.legacy };
    const nextCloud = { ...cloudRecord, weight: to.cloud };
    const changes: Change[] = [
      { Action: 'DELETE', ResourceRecordSet: toRecordSet(legacyRecord) },
      { Action: 'DELETE', ResourceRecordSet: toRecordSet(cloudRecord) },
      { Action: 'CREATE', ResourceRecordSet: toRecordSet(next) },
      { Action: 'CREATE', ResourceRecordSet: toRecordSet(nextCloud) },
    ];
    const written: Route53Snapshot = {
      ...expected.snapshot,
      records: expected.snapshot.records.map((r) =>
        r === legacyRecord ? next : r === cloudRecord ? nextCloud : r,
      ),
    };
    let attempts = 0;
    let out;
    try {
      // One change to the zone at a time, each after the previous one is INSYNC (see Route53Account).
      out = await this.#account.change(
        this.#config.hostedZoneId,
        (previous) => this.#waitPrevious(previous),
        async () => {
          const sent = await this.#call(
            'ChangeResourceRecordSets',
            true,
            () =>
              this.#client.send(
                new ChangeResourceRecordSetsCommand({
                  HostedZoneId: this.#config.hostedZoneId,
                  ChangeBatch: { Comment: opts.comment.slice(0, COMMENT_MAX), Changes: changes },
                }),
              ),
            (n) => (attempts = n),
          );
          return { result: sent, changeId: stripChangeId(sent.ChangeInfo?.Id) };
        },
      );
    } catch (err) {
      if (!mayHaveCommitted(err)) throw mapWriteError(this.#config.hostedZoneId, err);
      return this.#afterUncertainWrite(err, expected, written, to, opts.comment, attempts);
    }
    const changeId = stripChangeId(out.ChangeInfo?.Id);
    return {
      layer: 'route53',
      resource: this.resource,
      before: { legacy: legacyRecord.weight, cloud: cloudRecord.weight },
      after: to,
      ...(changeId ? { changeId } : {}),
      status: out.ChangeInfo?.Status === 'INSYNC' ? 'INSYNC' : 'PENDING',
      submittedAt: (out.ChangeInfo?.SubmittedAt ?? this.#now()).toISOString(),
      attempts,
      fingerprint: fingerprintOf(written),
    };
  }

  /**
   * The ChangeBatch failed with a 5xx or got no answer: Route 53 may have committed it. Reads the records and reports
   * what is there: the change (then follows it to INSYNC), the old records (nothing written), or something else.
   */
  async #afterUncertainWrite(
    err: unknown,
    expected: TrafficState,
    written: Route53Snapshot,
    to: Weights,
    comment: string,
    attempts: number,
  ): Promise<ShiftReceipt> {
    const writtenFingerprint = fingerprintOf(written);
    const failure = `ChangeResourceRecordSets ${describeFailure(err)}`;
    this.#log.warn(
      { resource: this.resource, failure },
      'route53 write outcome uncertain; reading the records',
    );
    const seen = await observeAfterFailure({
      service: 'Route 53',
      failure,
      read: () => this.read(),
      verdict: (s) =>
        s.fingerprint === writtenFingerprint
          ? 'applied'
          : s.fingerprint === expected.fingerprint
            ? 'untouched'
            : 'moved',
      sleep: this.#policy.sleep,
    });
    const now = `legacy ${seen.current.legacy.weight} / cloud ${seen.current.cloud.weight}`;
    if (seen.verdict === 'untouched') {
      throw new NotWrittenError(
        'Route 53',
        `${failure}; the records read back still show ${now}, so nothing was written`,
        err,
      );
    }
    if (seen.verdict === 'moved') {
      throw new TrafficDriftError(
        'route53',
        `${failure}; the records read back show ${now}, neither what was read nor what was asked: someone else changed them`,
      );
    }
    // Committed, but the change id was lost with the answer: a no-op batch gives one to follow (see syncMarker).
    const marker = await syncMarker(
      {
        call: (op, write, fn) => this.#call(op, write, fn),
        client: this.#client,
        hostedZoneId: this.#config.hostedZoneId,
        log: this.#log,
        resource: this.resource,
        now: this.#now,
      },
      [this.#record(seen.current, this.#config.legacy), this.#record(seen.current, this.#config.cloud)],
      comment,
    );
    return {
      layer: 'route53',
      resource: this.resource,
      before: { legacy: expected.legacy.weight, cloud: expected.cloud.weight },
      after: to,
      ...(marker ? { changeId: marker.changeId } : {}),
      status: marker?.status ?? 'PENDING',
      submittedAt: (marker?.submittedAt ?? this.#now()).toISOString(),
      attempts,
      fingerprint: writtenFingerprint,
      observed: `${failure}, but the records read back show ${now} as asked: the change was applied${
        marker
          ? `; its change id was lost with the answer, so the bot follows change ${marker.changeId} (a no-op batch rewriting the same records, applied after it) to INSYNC`
          : '; its change id was lost with the answer and no marker change could be sent, so propagation cannot be followed (Route 53 is usually in sync within 60 s)'
      }`,
    };
  }

  async syncStatus(receipt: Pick<ShiftReceipt, 'changeId'>): Promise<'PENDING' | 'INSYNC'> {
    if (!receipt.changeId) return 'INSYNC';
    const id = receipt.changeId;
    try {
      const out = await this.#call('GetChange', false, () =>
        this.#client.send(new GetChangeCommand({ Id: id })),
      );
      const status = out.ChangeInfo?.Status === 'INSYNC' ? 'INSYNC' : 'PENDING';
      if (status === 'INSYNC') this.#account.inSync(id);
      return status;
    } catch (err) {
      throw unexpectedAwsError('Route 53', 'GetChange', err);
    }
  }

  /** Follows the zone's previous change to INSYNC (up to zoneWaitMs) so the next one is not refused. */
  async #waitPrevious(changeId: string): Promise<void> {
    const seen = await this.waitInSync({ changeId, status: 'PENDING' }, { timeoutMs: this.#zoneWaitMs });
    if (seen.status !== 'INSYNC') {
      this.#log.warn(
        { resource: this.resource, changeId, waitedMs: seen.elapsedMs },
        'previous change still PENDING',
      );
    }
  }

  async waitInSync(
    receipt: Pick<ShiftReceipt, 'changeId' | 'status'>,
    opts: { timeoutMs?: number; onProgress?: (p: SyncProgress) => Promise<void> | void } = {},
  ): Promise<SyncResult> {
    const started = this.#now().getTime();
    const timeoutMs = opts.timeoutMs ?? this.#syncTimeoutMs;
    let polls = 0;
    let status = receipt.status;
    // Without a change id there is nothing to ask; saying INSYNC would be a guess.
    if (!receipt.changeId) return { status, elapsedMs: 0, polls, at: this.#now().toISOString() };
    while (status !== 'INSYNC') {
      const elapsed = this.#now().getTime() - started;
      if (elapsed >= timeoutMs) break;
      await this.#policy.sleep(this.#pollInterval(polls + 1));
      status = await this.syncStatus(receipt);
      polls += 1;
      await opts.onProgress?.({ status, elapsedMs: this.#now().getTime() - started, polls });
    }
    const at = this.#now();
    return { status, elapsedMs: at.getTime() - started, polls, at: at.toISOString() };
  }

  async recheck(receipt: Pick<ShiftReceipt, 'changeId' | 'before' | 'after'>): Promise<RecheckReport> {
    let status: 'PENDING' | 'INSYNC' | undefined;
    if (receipt.changeId) {
      try {
        status = await this.syncStatus(receipt);
      } catch (err) {
        // A change id Route 53 no longer knows (they expire) is not an error here: the records tell the story.
        if (awsError((err as { cause?: unknown }).cause ?? err).code !== 'NoSuchChange') throw err;
      }
    }
    const current = await this.read();
    const same = (w: Weights) => current.legacy.weight === w.legacy && current.cloud.weight === w.cloud;
    return {
      ...(status ? { status } : {}),
      applied: same(receipt.after),
      untouched: same(receipt.before),
      current,
    };
  }
}
