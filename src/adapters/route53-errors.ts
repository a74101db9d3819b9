// Route 53 errors: maps SDK failures of reads and ChangeBatches to our drift, rejection and service errors.
import { ExternalServiceError } from '../errors.ts';
import { awsError, unexpectedAwsError } from './aws-retry.ts';
import { TrafficDriftError, TrafficRejectedError } from './traffic.ts';

/** A failed read as an error that says what to check. */
export function mapReadError(hostedZoneId: string, operation: string, err: unknown): Error {
  const info = awsError(err);
  if (info.code === 'NoSuchHostedZone') {
    return new ExternalServiceError(
      'Route 53',
      `hosted zone ${hostedZoneId} does not exist or this account cannot see it (${info.message}). Check traffic.route53.hostedZoneId.`,
      { status: info.status, cause: err },
    );
  }
  return unexpectedAwsError('Route 53', operation, err);
}

/** A refused ChangeBatch as drift (the records moved), a rejection, or a read-style error. */
export function mapWriteError(hostedZoneId: string, err: unknown): Error {
  if (err instanceof ExternalServiceError) return err;
  const info = awsError(err);
  const messages = (err as { messages?: string[] }).messages;
  const text = messages && messages.length > 0 ? messages.join('; ') : info.message;
  if (info.code === 'InvalidChangeBatch') {
    // Route 53 compares a DELETE with what it holds: a mismatch means someone moved the records since we read them.
    if (/not found|do not match|values provided/i.test(text)) {
      return new TrafficDriftError(
        'route53',
        `Route 53 refused the change because the records no longer match what was read: ${text}`,
        text,
      );
    }
    return new TrafficRejectedError('route53', info.code, text);
  }
  if (info.code === 'InvalidInput' || info.code === 'InvalidArgument') {
    return new TrafficRejectedError('route53', info.code, text);
  }
  return mapReadError(hostedZoneId, 'ChangeResourceRecordSets', err);
}
