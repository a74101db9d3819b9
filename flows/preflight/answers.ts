// The answers one preflight check can give, so each check says only its detail and how to fix it.
import type { CheckStatus, PreflightCheck } from './preflight.ts';

export interface Answers {
  pass(detail: string): PreflightCheck;
  warn(detail: string, fix?: string): PreflightCheck;
  fail(detail: string, fix?: string): PreflightCheck;
}

export function answers(id: PreflightCheck['id'], title: string): Answers {
  const answer =
    (status: CheckStatus) =>
    (detail: string, fix?: string): PreflightCheck => ({
      id,
      title,
      status,
      detail,
      ...(fix === undefined ? {} : { fix }),
    });
  return { pass: answer('pass'), warn: answer('warn'), fail: answer('fail') };
}
