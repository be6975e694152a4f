import { z } from 'zod';
import { MAX_USD } from '../money/money.js';

/** Client-chosen request id, echoed in the reply. */
export const RequestId = z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters');

/** Agent, session, task, user and child names: printable, no spaces, bounded. */
export const Name = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9._@/+=-]+$/, 'may only contain letters, digits and . _ @ / + = -');

export const Tokens = z
  .number({ error: 'must be a number' })
  .int('must be a whole number')
  .nonnegative('must not be negative')
  .max(1_000_000_000, 'must be at most 1,000,000,000');

export const Usd = z
  .number({ error: 'must be a number' })
  .nonnegative('must not be negative')
  .max(MAX_USD, `must be at most ${MAX_USD}`);

export const ShortText = z.string().max(256, 'must be at most 256 characters');

/** `global`, `user:alice`, `session:s-42`, `task:t-7`, `agent:research-1`. */
export const ScopeIdSchema = z
  .string()
  .max(300)
  .regex(/^(global|(user|session|task|agent):[A-Za-z0-9._@/+=-]{1,128})$/, 'must be global or kind:id with kind user, session, task or agent');
