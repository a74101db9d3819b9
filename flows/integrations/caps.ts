// What the integrations (webhooks out, alerts in, the API) may reach of Deps (src/main.ts hands all of it).
// An alert may request a contain and the API serves the post-mortem, so it needs their capabilities too.
import type { Deps } from '../../src/deps.ts';
import type { ContainCaps } from '../contain/index.ts';
import type { PostmortemCaps } from '../postmortem/index.ts';

export type IntegrationsCaps = Pick<Deps, 'tasks'> & ContainCaps & PostmortemCaps;
