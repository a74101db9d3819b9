// The bot's one secret that is not in Redis: keys the approval binding and the timeline's hashes.
import { createHmac, createSecretKey } from 'node:crypto';

/**
 * Keyed hashes (HMAC-SHA-256) with a secret the store never sees: someone who can edit Redis can rewrite a change
 * or an event, but cannot compute the hash that would make the rewrite pass.
 */
export interface Keys {
  /** Where the secret came from, for the start-up line (never the secret itself). */
  readonly source: 'CLOUD_SAFETY_SECRET' | 'SLACK_SIGNING_SECRET' | 'SLACK_APP_TOKEN' | 'none';
  /** Hex HMAC of `text` for one purpose ("approve", "timeline"), so a MAC for one use never passes for another. */
  mac(purpose: string, text: string): string;
}

/** Console drills and tests without any secret: keyed, but with a key anyone can read in this file. */
const UNKEYED = 'cloud-safety/no-secret-configured';

/**
 * CLOUD_SAFETY_SECRET when set (keep it when Slack secrets rotate: chains and open cards stay valid), otherwise
 * derived from the Slack signing secret (HTTP mode) or the app token (Socket Mode).
 */
export function deriveKeys(env: NodeJS.ProcessEnv): Keys {
  const [source, secret] = env.CLOUD_SAFETY_SECRET
    ? (['CLOUD_SAFETY_SECRET', env.CLOUD_SAFETY_SECRET] as const)
    : env.SLACK_SIGNING_SECRET
      ? (['SLACK_SIGNING_SECRET', env.SLACK_SIGNING_SECRET] as const)
      : env.SLACK_APP_TOKEN
        ? (['SLACK_APP_TOKEN', env.SLACK_APP_TOKEN] as const)
        : (['none', UNKEYED] as const);
  // Derived, so the Slack secret itself is never used as a key for anything else.
  // A KeyObject, made once: handing createHmac raw bytes re-imports the key on every call, which was 40 % of
  // verifying a 10,000-event timeline.
  const key = createSecretKey(createHmac('sha256', secret).update('cloud-safety/keys/v1').digest());
  return {
    source,
    mac(purpose, text) {
      return createHmac('sha256', key).update(`${purpose}\0${text}`).digest('hex');
    },
  };
}
