// The ALB traffic adapter: reads the forward action, checks legacy health, and shifts its weights with a re-read CAS.
import {
  DescribeListenersCommand,
  DescribeRulesCommand,
  DescribeTargetHealthCommand,
  ModifyListenerCommand,
  ModifyRuleCommand,
  type Action,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AlbTraffic } from '../config.ts';
import { ExternalServiceError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { NotWrittenError, observeAfterFailure, UnknownOutcomeError } from '../outcome.ts';
import {
  awsError,
  callAws,
  DEFAULT_RETRY,
  realSleep,
  unexpectedAwsError,
  type RetryPolicy,
} from './aws-retry.ts';
import { ALB_MAX_WEIGHT, stateOf, targetGroupName, withoutSecrets, withWeights } from './alb-actions.ts';
import {
  assertWritable,
  TrafficDriftError,
  TrafficRejectedError,
  type AlbSnapshot,
  type HealthReport,
  type RecheckReport,
  type ShiftReceipt,
  type SyncResult,
  type TrafficPort,
  type TrafficState,
  type Weights,
  inSyncNow,
  recheckByReading,
} from './traffic.ts';
import { describeFailure, mayHaveCommitted } from './write-outcome.ts';

export interface AlbOptions {
  client: ElasticLoadBalancingV2Client;
  config: AlbTraffic;
  metrics: Metrics;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  now?: () => Date;
}

export class AlbTrafficAdapter implements TrafficPort {
  readonly layer = 'alb' as const;
  readonly resource: string;
  readonly lockKey: string;
  #client: ElasticLoadBalancingV2Client;
  #config: AlbTraffic;
  #metrics: Metrics;
  #log: Logger;
  #policy: RetryPolicy;
  #now: () => Date;

  constructor(opts: AlbOptions) {
    this.#client = opts.client;
    this.#config = opts.config;
    this.#metrics = opts.metrics;
    this.#log = opts.log;
    this.#policy = { ...DEFAULT_RETRY, sleep: opts.sleep ?? realSleep, random: opts.random ?? Math.random };
    this.#now = opts.now ?? (() => new Date());
    const where = opts.config.ruleArn
      ? `rule ${opts.config.ruleArn.split('/').slice(-1)[0]}`
      : 'default action';
    const listener = opts.config.listenerArn.split(':listener/')[1] ?? opts.config.listenerArn;
    this.resource = `ALB listener ${listener}, ${where}`;
    this.lockKey = `alb:${opts.config.listenerArn}`;
  }

  #call<T>(operation: string, write: boolean, fn: () => Promise<T>, onAttempts?: (n: number) => void) {
    return callAws(
      {
        service: 'ELB',
        adapter: 'elbv2',
        operation,
        write,
        policy: this.#policy,
        metrics: this.#metrics,
        log: this.#log,
        ...(onAttempts ? { onAttempts } : {}),
      },
      fn,
    );
  }

  async #readActions(): Promise<Record<string, unknown>[]> {
    const { ruleArn, listenerArn } = this.#config;
    try {
      if (ruleArn) {
        const out = await this.#call('DescribeRules', false, () =>
          this.#client.send(new DescribeRulesCommand({ RuleArns: [ruleArn] })),
        );
        const rule = out.Rules?.find((r) => r.RuleArn === ruleArn);
        if (!rule) throw new ExternalServiceError('ELB', `rule ${ruleArn} was not returned by DescribeRules`);
        return withoutSecrets(rule.Actions);
      }
      const out = await this.#call('DescribeListeners', false, () =>
        this.#client.send(new DescribeListenersCommand({ ListenerArns: [listenerArn] })),
      );
      const listener = out.Listeners?.find((l) => l.ListenerArn === listenerArn);
      if (!listener)
        throw new ExternalServiceError(
          'ELB',
          `listener ${listenerArn} was not returned by DescribeListeners`,
        );
      return withoutSecrets(listener.DefaultActions);
    } catch (err) {
      const info = awsError(err);
      if (info.code === 'RuleNotFound' || info.code === 'ListenerNotFound') {
        throw new ExternalServiceError(
          'ELB',
          `${info.message} (${info.code}). Check traffic.alb.${ruleArn ? 'ruleArn' : 'listenerArn'} in cloud-safety.yml.`,
          { status: info.status, cause: err },
        );
      }
      throw unexpectedAwsError('ELB', ruleArn ? 'DescribeRules' : 'DescribeListeners', err);
    }
  }

  async read(): Promise<TrafficState> {
    const actions = await this.#readActions();
    const snapshot: AlbSnapshot = {
      kind: 'alb',
      listenerArn: this.#config.listenerArn,
      ...(this.#config.ruleArn ? { ruleArn: this.#config.ruleArn } : {}),
      actions,
    };
    return stateOf(snapshot, this.#config, this.resource);
  }

  async checkLegacyHealth(state: TrafficState): Promise<HealthReport> {
    const arn = state.legacy.id;
    let out;
    try {
      out = await this.#call('DescribeTargetHealth', false, () =>
        this.#client.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn })),
      );
    } catch (err) {
      const info = awsError(err);
      if (info.code === 'TargetGroupNotFound') {
        return { status: 'unhealthy', detail: `legacy target group ${targetGroupName(arn)} does not exist` };
      }
      return {
        status: 'unknown',
        detail: `could not read the legacy target group's health (${info.code}: ${info.message})`,
      };
    }
    const targets = out.TargetHealthDescriptions ?? [];
    const name = targetGroupName(arn);
    if (targets.length === 0) {
      return { status: 'unhealthy', detail: `legacy target group ${name} has no registered targets` };
    }
    const count = (state: string) => targets.filter((t) => t.TargetHealth?.State === state).length;
    const healthy = count('healthy');
    if (healthy > 0) {
      return { status: 'healthy', detail: `${healthy} of ${targets.length} targets in ${name} are healthy` };
    }
    const waiting = count('unused') + count('initial');
    const sample = targets.find((t) => t.TargetHealth?.State !== 'healthy')?.TargetHealth;
    const why = sample ? `${sample.State}${sample.Reason ? ` ${sample.Reason}` : ''}` : 'unknown';
    if (waiting === targets.length) {
      return {
        status: 'unknown',
        detail: `no target in ${name} has been health-checked yet (${why}); the load balancer checks them once traffic is forwarded`,
      };
    }
    return {
      status: 'unhealthy',
      detail: `0 of ${targets.length} targets in ${name} are healthy (${why}${sample?.Description ? `: ${sample.Description}` : ''})`,
    };
  }

  async shift(expected: TrafficState, to: Weights, _opts: { comment: string }): Promise<ShiftReceipt> {
    if (expected.snapshot.kind !== 'alb') throw new Error('not an ALB state');
    assertWritable(to, expected.others, ALB_MAX_WEIGHT);
    // ELB has no conditional write: re-read right before writing (the caller holds the listener lock) and compare.
    const current = await this.read();
    if (current.fingerprint !== expected.fingerprint) {
      throw new TrafficDriftError('alb', 'the forward action changed since it was read; nothing was written');
    }
    const actions = withWeights(expected.snapshot.actions, this.#config, to) as unknown as Action[];
    const { ruleArn, listenerArn } = this.#config;
    const operation = ruleArn ? 'ModifyRule' : 'ModifyListener';
    let attempts = 0;
    let observed: string | undefined;
    try {
      if (ruleArn) {
        await this.#call(
          'ModifyRule',
          true,
          () => this.#client.send(new ModifyRuleCommand({ RuleArn: ruleArn, Actions: actions })),
          (n) => (attempts = n),
        );
      } else {
        await this.#call(
          'ModifyListener',
          true,
          () =>
            this.#client.send(
              new ModifyListenerCommand({ ListenerArn: listenerArn, DefaultActions: actions }),
            ),
          (n) => (attempts = n),
        );
      }
    } catch (err) {
      if (mayHaveCommitted(err)) {
        observed = await this.#afterUncertainWrite(err, operation, current, to);
      } else {
        if (err instanceof ExternalServiceError) throw err;
        const info = awsError(err);
        if (
          info.code === 'ValidationError' ||
          /^Invalid/.test(info.code) ||
          info.code.startsWith('TooMany')
        ) {
          throw new TrafficRejectedError('alb', info.code, info.message);
        }
        throw unexpectedAwsError('ELB', operation, err);
      }
    }
    // ELBv2 reads are eventually consistent: a read right after a successful modify can still show the old weights.
    let seen;
    try {
      seen = await this.#readBack(`${operation} succeeded`, current, to);
    } catch (err) {
      if (!(err instanceof UnknownOutcomeError)) throw err;
      // The write was answered OK; only the check failed. Say so rather than claim either way.
      return {
        layer: 'alb',
        resource: this.resource,
        before: { legacy: expected.legacy.weight, cloud: expected.cloud.weight },
        after: to,
        status: 'INSYNC',
        submittedAt: this.#now().toISOString(),
        attempts,
        observed: `${observed ?? `${operation} succeeded`}; reading the listener back failed (${(err.cause as Error | undefined)?.message ?? err.message}), so the weights are not verified`,
      };
    }
    const after = seen.current;
    if (seen.verdict !== 'applied') {
      this.#log.warn({ resource: this.resource, reads: seen.reads }, 'alb weights differ after the write');
      throw new TrafficDriftError(
        'alb',
        seen.verdict === 'untouched'
          ? `the ALB accepted the change but ${seen.reads} reads over ${seen.reads - 1} s still show legacy ${after.legacy.weight} / cloud ${after.cloud.weight}: it did not take effect; check the listener`
          : `the ALB accepted the change but now shows legacy ${after.legacy.weight} / cloud ${after.cloud.weight}: someone else changed it at the same moment`,
      );
    }
    return {
      layer: 'alb',
      resource: this.resource,
      before: { legacy: expected.legacy.weight, cloud: expected.cloud.weight },
      after: to,
      status: 'INSYNC',
      submittedAt: this.#now().toISOString(),
      attempts,
      fingerprint: after.fingerprint,
      ...(observed ? { observed } : {}),
    };
  }

  /**
   * The modify failed with a 5xx or got no answer: the ALB may have applied it. Reads the forward action back;
   * returns what was seen when the weights are there, throws NotWrittenError (nothing changed) or drift otherwise.
   */
  async #afterUncertainWrite(
    err: unknown,
    operation: string,
    before: TrafficState,
    to: Weights,
  ): Promise<string> {
    const failure = `${operation} ${describeFailure(err)}`;
    this.#log.warn({ resource: this.resource, failure }, 'alb write outcome uncertain; reading the weights');
    const seen = await this.#readBack(failure, before, to);
    const now = `legacy ${seen.current.legacy.weight} / cloud ${seen.current.cloud.weight}`;
    if (seen.verdict === 'untouched') {
      throw new NotWrittenError(
        'ELB',
        `${failure}; ${seen.reads} reads of the listener over ${seen.reads - 1} s still show ${now}, so nothing was written`,
        err,
      );
    }
    if (seen.verdict === 'moved') {
      throw new TrafficDriftError(
        'alb',
        `${failure}; the listener read back shows ${now}, neither what was read nor what was asked: someone else changed it`,
      );
    }
    return `${failure}, but the listener read back shows ${now} as asked: the change was applied`;
  }

  /** Reads the weights back (3 reads, ELBv2 being eventually consistent): applied, untouched since `before`, or moved. */
  #readBack(failure: string, before: TrafficState, to: Weights) {
    return observeAfterFailure({
      service: 'ELB',
      failure,
      read: () => this.read(),
      verdict: (s) =>
        s.legacy.weight === to.legacy && s.cloud.weight === to.cloud
          ? 'applied'
          : s.fingerprint === before.fingerprint
            ? 'untouched'
            : 'moved',
      reads: 3,
      sleep: this.#policy.sleep,
    });
  }

  async syncStatus(): Promise<'PENDING' | 'INSYNC'> {
    return 'INSYNC';
  }

  async waitInSync(): Promise<SyncResult> {
    return inSyncNow(this.#now);
  }

  recheck(receipt: Pick<ShiftReceipt, 'before' | 'after'>): Promise<RecheckReport> {
    // Eventually consistent reads: a modify made just before a restart can still read as the old weights, which is
    // not "never applied" until a few reads agree (the same 3 reads, 1 s apart, as after a write).
    return recheckByReading(() => this.read(), receipt, {
      reads: 3,
      pauseMs: 1000,
      sleep: this.#policy.sleep,
    });
  }
}
