// The simulated ELBv2 endpoint's face: what it serves, its faults, and the handle tests and the drill world hold.
import type { Server } from 'node:http';
import type { QueryValue } from './elbv2-xml.ts';

/** AWS documents a per-account, per-Region bucket of 40 tokens refilled at 10/s for ELBv2's Describe* calls. */
export const REAL_DESCRIBE_RATE = { burst: 40, perSecond: 10 };
/** Mutating calls get a smaller bucket (AWS does not publish every figure; this is the order of magnitude seen). */
export const REAL_MODIFY_RATE = { burst: 20, perSecond: 2 };
/** How long a Describe* may still show what was there before a Modify (ELBv2 reads are eventually consistent). */
export const DEFAULT_CONSISTENCY_MS = 1500;

export type Elbv2Operation =
  | 'DescribeListeners'
  | 'DescribeRules'
  | 'ModifyListener'
  | 'ModifyRule'
  | 'DescribeTargetGroups'
  | 'DescribeTargetHealth';

export interface ElbTarget {
  id: string;
  port: number;
  state: 'healthy' | 'unhealthy' | 'initial' | 'unused' | 'draining' | 'unavailable';
  reason?: string;
  description?: string;
}

export interface ElbTargetGroup {
  arn: string;
  port: number;
  targets: ElbTarget[];
}

export interface ElbListener {
  arn: string;
  port: number;
  protocol: 'HTTP' | 'HTTPS';
  /** DefaultActions as the API shows them (`{ Type: 'forward', ForwardConfig: { TargetGroups: [...] } }`). */
  actions: QueryValue[];
}

export interface ElbRule {
  arn: string;
  listenerArn: string;
  priority: string;
  pathPattern: string;
  actions: QueryValue[];
}

export interface Elbv2Fault {
  code: string;
  message: string;
  /** Default 400. */
  status?: number;
  /** The write is applied first and only the answer fails ('drop': the connection closes with no answer). */
  afterCommit?: boolean | 'drop';
}

/** A Modify that commits and then answers 500, as an ELB control plane hiccup does. */
export const ELB_FAIL_AFTER_COMMIT: Elbv2Fault = {
  code: 'InternalFailure',
  message: 'The request processing has failed because of an unknown error, exception or failure.',
  status: 500,
  afterCommit: true,
};

export const ELB_THROTTLING: Elbv2Fault = { code: 'Throttling', message: 'Rate exceeded', status: 400 };

export interface Elbv2ServerOptions {
  /** Where it listens and the name in its URL (other replicas reach a drill's simulators by it). */
  bind?: { host: string; advertise: string };
  loadBalancerArn: string;
  listeners: ElbListener[];
  rules?: ElbRule[];
  targetGroups: ElbTargetGroup[];
  /** Describe* shows the previous actions this long after a Modify (default 1.5 s); 0 for read-after-write. */
  consistencyMs?: number;
  /** Token buckets for Describe* and Modify* (default the real ones); false: never throttle. */
  rateLimit?:
    false | { describe: { burst: number; perSecond: number }; modify: { burst: number; perSecond: number } };
  now?: () => number;
  port?: number;
}

export interface Elbv2Server {
  url: string;
  port: number;
  server: Server;
  /** Every request, in order: the Action and its parameters. */
  requests: { action: string; params: Record<string, QueryValue> }[];
  /** Refusals by error code (Throttling, ValidationError, …). */
  refused: Record<string, number>;
  /** The committed actions of a listener (default actions) or rule, whatever Describe* shows right now. */
  actions(arn: string): QueryValue[];
  /** The committed weights of a listener's or rule's forward action, by target group ARN. */
  weights(arn: string): Record<string, number>;
  setTargetHealth(
    targetGroupArn: string,
    state: ElbTarget['state'],
    reason?: string,
    description?: string,
  ): void;
  /** Answers the next n Modify* calls with Throttling. */
  throttleNext(n: number): void;
  failNext(operation: Elbv2Operation, n: number, fault: Elbv2Fault): void;
  stop(): Promise<void>;
}
