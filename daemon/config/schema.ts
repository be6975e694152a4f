import ms from 'ms';
import { z } from 'zod';
import { MAX_USD } from '../../shared/money/money.js';
import { ProxyConfig } from './proxy-schema.js';

/** The YAML configuration of SPEC §6: one schema, giving the type and the validation. */

const DURATION_RE = /^\d+(\.\d+)?\s*(ms|s|m|h|d)$/;

/** `90s`, `5m`, `2h`, `1d` → milliseconds. */
export const Duration = z
  .string()
  .regex(DURATION_RE, 'must be a duration like 90s, 5m, 2h or 1d')
  .transform((s) => Math.round(ms(s as ms.StringValue)))
  .refine((v) => v <= 366 * 24 * 3_600_000, 'must be at most 366d');

const Usd = z.number().nonnegative('must not be negative').max(MAX_USD, `must be at most ${MAX_USD}`);
const Count = z.number().int('must be a whole number').nonnegative('must not be negative').max(1e12);
const Ratio = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');

export const Dims = z.strictObject({
  cost_usd: Usd.optional(),
  tokens: Count.optional(),
  input_tokens: Count.optional(),
  output_tokens: Count.optional(),
  calls: Count.optional(),
  models: z.record(z.string(), z.strictObject({ tokens: Count.optional(), cost_usd: Usd.optional() })).optional(),
  ops: z.record(z.string(), Count).optional(),
});

export const Mode = z.enum(['hard', 'soft', 'approval']);

export const LimitBlock = Dims.extend({
  calls_per_min: Count.optional(),
  wall_time: Duration.optional(),
  per_hour: Dims.optional(),
  per_day: Dims.optional(),
  per_week: Dims.optional(),
  per_month: Dims.optional(),
  max_share: Ratio.optional(),
  min_share: Ratio.optional(),
  mode: Mode.optional(),
});

const ScopeKey = z
  .string()
  .regex(/^(global|(user|session|task|agent):[A-Za-z0-9._@/+=-]{1,128})$/, 'must be global or kind:id');

const RATE_KEYS = ['input', 'output', 'cache_read', 'cache_write', 'cache_write_1h'] as const;

/** USD per million tokens. Unstated cache rates: read and 5-minute write at the input rate, 1-hour write at twice it. */
const PriceRates = z.strictObject({
  input: Usd,
  output: Usd,
  cache_read: Usd.optional(),
  cache_write: Usd.optional(),
  cache_write_1h: Usd.optional(),
});

/** The fallback for models priced nowhere: never free, or an unknown model would pass every cap. */
const DefaultPrice = PriceRates.superRefine((p, ctx) => {
  for (const key of ['input', 'output'] as const) {
    if (p[key] === 0) ctx.addIssue({ code: 'custom', path: [key], message: 'must be above 0: unknown models are priced at it' });
  }
});

/**
 * A model's price override. A zero input or output price is a claim that the model costs nothing
 * (a local model), so it must say so with `free: true`; a stray 0 is more often a typo.
 */
const ModelPriceOverride = PriceRates.partial()
  .extend({ free: z.boolean().optional() })
  .superRefine((p, ctx) => {
    if (p.free === true) {
      for (const key of RATE_KEYS) {
        if (p[key] !== undefined && p[key] !== 0) ctx.addIssue({ code: 'custom', path: [key], message: 'must be 0 or left out: the model is marked free: true' });
      }
      return;
    }
    for (const key of ['input', 'output'] as const) {
      if (p[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'is required' });
      else if (p[key] === 0) ctx.addIssue({ code: 'custom', path: [key], message: 'is 0: a zero price is honoured only with free: true next to it' });
    }
  })
  .transform((p) => (p.free === true ? { input: 0, output: 0, cache_read: 0, cache_write: 0, cache_write_1h: 0, free: true } : { ...p, input: p.input ?? 0, output: p.output ?? 0 }));

const ToolPolicy = z.union([
  z.enum(['auto', 'confirm', 'deny']),
  z.strictObject({ mode: z.enum(['auto', 'confirm', 'deny']), max_cost_usd: Usd.optional() }),
]);

/** Safe embedded defaults (SPEC §6): used when no config file is given. */
export const EMBEDDED_LIMITS = {
  global: { per_day: { cost_usd: 20 }, mode: 'hard' },
  session: { cost_usd: 5, tokens: 500_000, mode: 'approval' },
  task: { cost_usd: 1, tokens: 100_000, mode: 'hard' },
} as const;

export const ConfigSchema = z.strictObject({
  listen: z
    .string()
    .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')
    .default('127.0.0.1:7878'),
  // Refuse the shared agent token: agents authenticate with keys bound to a scope. Read at
  // start only (like listen and state_dir); listening beyond loopback turns it on regardless.
  require_keys: z.boolean().default(false),
  state_dir: z.string().min(1).optional(),
  // Agent WebSocket connections at once; past it the upgrade is refused 503 (memory stays bounded).
  max_connections: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1_000_000).default(20_000),
  timezone: z
    .string()
    .default('local')
    .refine((tz) => tz === 'local' || isTimeZone(tz), 'must be local or an IANA time zone like Europe/Berlin'),
  limits: z
    .strictObject({
      global: LimitBlock.optional(),
      user: LimitBlock.optional(),
      session: LimitBlock.optional(),
      task: LimitBlock.optional(),
      agent: LimitBlock.optional(),
    })
    // A config without `limits` keeps the safe embedded limits rather than none at all.
    .prefault(() => ({ ...EMBEDDED_LIMITS })),
  scopes: z.record(ScopeKey, LimitBlock).default({}),
  thresholds: z.strictObject({ warning: Ratio.default(0.7), critical: Ratio.default(0.9) }).prefault({}),
  backpressure: z
    .array(z.tuple([z.number().min(0).max(10), Count]))
    .max(32)
    .default([
      [0.8, 50],
      [0.85, 300],
      [0.9, 750],
      [0.95, 1500],
      [1.0, 5000],
    ]),
  approvals: z
    .strictObject({
      timeout: Duration.default(120_000),
      increment_usd: Usd.default(1),
      /** A grant of more than this (or of more than the scope's current limit) needs the operator's explicit yes. */
      confirm_above_usd: Usd.default(10),
      grace: z.strictObject({ tokens: Count.default(5000), cost_usd: Usd.default(0.1) }).prefault({}),
    })
    .prefault({}),
  reservations: z
    .strictObject({
      lease: Duration.default(300_000),
      adaptive: z.boolean().default(false),
      default_max_output_tokens: Count.default(4096),
    })
    .prefault({}),
  breakers: z
    .strictObject({
      denials: z
        .strictObject({
          threshold: Count.default(5),
          reset: Duration.default(300_000),
          // Trial requests admitted while half-open; each is remembered until it is decided.
          half_open: Count.max(1000, 'must be at most 1000').default(3),
          // Consecutive denials across all of a user's agents with no grant between them;
          // SPEC §3 gives agents and users one N, so unset it follows `threshold`.
          user_threshold: Count.optional(),
        })
        .transform((d) => ({ ...d, user_threshold: d.user_threshold ?? d.threshold }))
        .prefault({}),
      // Any window up to 366d is honoured: each task and agent keeps 60 buckets of window/60.
      burn_rate: z
        .strictObject({ window: Duration.default(600_000), cost_usd: Usd.optional(), cooldown: Duration.default(1_200_000) })
        .prefault({}),
    })
    .prefault({}),
  detectors: z
    .strictObject({
      loop: z
        .strictObject({
          repeats: Count.default(5),
          window: Duration.default(600_000),
          allow: z.array(z.string()).default([]),
          // Also treat the same model with the same input size as a repeat (retrying one prompt).
          match_input_size: z.boolean().default(false),
        })
        .prefault({}),
      amplification: z
        .strictObject({
          factor: z.number().min(1).max(1000).default(4),
          window: Duration.default(600_000),
          min_calls: Count.default(4),
          action: z.enum(['alert', 'deny']).default('alert'),
        })
        .prefault({}),
      fanout: z.strictObject({ children: Count.default(10), depth: Count.default(3) }).prefault({}),
      // In-flight reservations; unlimited unless set (the example config sets agent 8, task 32).
      concurrency: z.strictObject({ agent: Count.optional(), task: Count.optional() }).prefault({}),
    })
    .prefault({}),
  tools: z.record(z.string(), ToolPolicy).default({}),
  routing: z.record(z.string(), z.string()).default({}),
  alerts: z.strictObject({ webhook: z.url().optional() }).prefault({}),
  pricing: z
    .strictObject({
      default: DefaultPrice.default({ input: 1, output: 4 }),
      models: z.record(z.string(), ModelPriceOverride).default({}),
    })
    .prefault({}),
  proxy: ProxyConfig,
});

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export type Config = z.infer<typeof ConfigSchema>;
export type LimitBlock = z.infer<typeof LimitBlock>;
export type Dims = z.infer<typeof Dims>;
export type Mode = z.infer<typeof Mode>;

export function embeddedConfig(): Config {
  return ConfigSchema.parse({ limits: EMBEDDED_LIMITS });
}
