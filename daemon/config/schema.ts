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

export const Dims = z
  .strictObject({
    cost_usd: Usd.optional().describe('Spend in USD'),
    tokens: Count.optional().describe('Input + output tokens'),
    input_tokens: Count.optional().describe('Input tokens'),
    output_tokens: Count.optional().describe('Output tokens'),
    calls: Count.optional().describe('Model calls'),
    models: z
      .record(
        z.string(),
        z
          .strictObject({ tokens: Count.optional().describe("The model's tokens"), cost_usd: Usd.optional().describe('Spend on the model in USD') })
          .describe("The model's caps"),
      )
      .optional()
      .describe('Per-model caps inside the scope, by model name'),
    ops: z
      .record(z.string(), Count.describe('Most operations of the name'))
      .optional()
      .describe('Operation counts, by the `op` a request names (bash, file_edit …)'),
  })
  .describe('The dimensions a limit can cap; a scope over any of them is over its limit');

export const Mode = z.enum(['hard', 'soft', 'approval']);

export const LimitBlock = Dims.extend({
  calls_per_min: Count.optional().describe('Model calls per minute; over it → RATE_LIMITED'),
  wall_time: Duration.optional().describe("Longest time since the scope's first event; past it requests are refused BUDGET_EXCEEDED"),
  per_hour: Dims.optional().describe('Caps per calendar hour, reset on the hour in `timezone`'),
  per_day: Dims.optional().describe('Caps per calendar day, reset at midnight in `timezone`'),
  per_week: Dims.optional().describe('Caps per calendar week (weeks start on Monday)'),
  per_month: Dims.optional().describe('Caps per calendar month'),
  max_share: Ratio.optional().describe("Caps one child's share of its parent's limit"),
  min_share: Ratio.optional().describe("Agents: keeps this share of the parent's limit for each connected sibling that has not used it yet"),
  mode: Mode.optional().describe('Over the limit, hard denies, soft allows and warns, approval parks the request and asks the operator; unset: hard'),
}).describe('The limits of one scope. Every request is checked against every scope in its chain (global → user → session → task → agent)');

const ScopeKey = z
  .string()
  .regex(/^(global|(user|session|task|agent):[A-Za-z0-9._@/+=-]{1,128})$/, 'must be global or kind:id');

const RATE_KEYS = ['input', 'output', 'cache_read', 'cache_write', 'cache_write_1h'] as const;

/** USD per million tokens. Unstated cache rates: read and 5-minute write at the input rate, 1-hour write at twice it. */
const PriceRates = z.strictObject({
  input: Usd.describe('USD per million input tokens'),
  output: Usd.describe('USD per million output tokens'),
  cache_read: Usd.optional().describe('USD per million cache-read tokens; unstated: the input price'),
  cache_write: Usd.optional().describe('USD per million 5-minute cache-write tokens; unstated: the input price'),
  cache_write_1h: Usd.optional().describe('USD per million 1-hour cache-write tokens; unstated: twice the input price'),
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
  .extend({ free: z.boolean().optional().describe('The model costs nothing (a local model); a zero input or output price needs it') })
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

const ToolPolicy = z
  .union([
    z.enum(['auto', 'confirm', 'deny']),
    z.strictObject({
      mode: z.enum(['auto', 'confirm', 'deny']).describe('auto: allowed, confirm: ask the operator, deny: refused (TOOL_DENIED)'),
      max_cost_usd: Usd.optional().describe('Most one call of the tool may cost, in USD'),
    }),
  ])
  .describe('auto (allowed) | confirm (ask the operator) | deny, or { mode, max_cost_usd }');

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
    .default('127.0.0.1:7878')
    .describe('Address the daemon listens on, host:port; keep it on loopback. Beyond loopback keys are required. Read at start only'),
  // Refuse the shared agent token: agents authenticate with keys bound to a scope. Read at
  // start only (like listen and state_dir); listening beyond loopback turns it on regardless.
  require_keys: z.boolean().default(false).describe('Refuse the shared agent.token: every agent authenticates with a key bound to a scope (`spendguard keys create`). On whenever listen is beyond loopback. Read at start only'),
  state_dir: z.string().min(1).optional().describe('Ledger, tokens and lock file; `~/` is expanded. Unset: $XDG_STATE_HOME/spendguard; --state-dir and SPENDGUARD_STATE_DIR take precedence. Read at start only'),
  // Agent WebSocket connections at once; past it the upgrade is refused 503 (memory stays bounded).
  max_connections: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1_000_000).default(20_000).describe("Agent WebSocket connections at once; past it a new agent's upgrade is refused with HTTP 503"),
  timezone: z
    .string()
    .default('local')
    .refine((tz) => tz === 'local' || isTimeZone(tz), 'must be local or an IANA time zone like Europe/Berlin')
    .describe("Time zone of the per_hour … per_month resets: local (the system's) or an IANA name like Europe/Berlin"),
  limits: z
    .strictObject({
      global: LimitBlock.optional().describe('Limits of the global scope'),
      user: LimitBlock.optional().describe('Limits of every user scope'),
      session: LimitBlock.optional().describe('Limits of every session scope'),
      task: LimitBlock.optional().describe('Limits of every task scope'),
      agent: LimitBlock.optional().describe('Limits of every agent scope'),
    })
    // A config without `limits` keeps the safe embedded limits rather than none at all.
    .prefault(() => ({ ...EMBEDDED_LIMITS }))
    .describe('Limits for every scope of a kind. Without this key the embedded limits apply; a kind left out of it has none'),
  scopes: z
    .record(ScopeKey, LimitBlock.describe('The limits of the named scope'))
    .default({})
    .describe("Overrides for named scopes, by `global` or kind:id (quote the key: the colon is YAML syntax), laid over the kind's limits key by key"),
  thresholds: z
    .strictObject({
      warning: Ratio.default(0.7).describe('Pressure, (spent + reserved) / limit, that raises a warning alert once per crossing'),
      critical: Ratio.default(0.9).describe('Pressure that raises a critical alert once per crossing (and turns on routing hints)'),
    })
    .prefault({})
    .describe('Alert thresholds, as ratios of a limit (1.0 is exceeded)'),
  backpressure: z
    .array(z.tuple([z.number().min(0).max(10).describe('Projected usage as a ratio of the limit'), Count.describe('Delay in milliseconds')]))
    .max(32)
    .default([
      [0.8, 50],
      [0.85, 300],
      [0.9, 750],
      [0.95, 1500],
      [1.0, 5000],
    ])
    .describe("Steps of [ratio, delay_ms]: once a scope's projected usage reaches ratio of its limit, grants carry delay_ms to wait before calling the provider"),
  approvals: z
    .strictObject({
      timeout: Duration.default(120_000).describe('An unanswered prompt is denied (APPROVAL_TIMEOUT) after this'),
      increment_usd: Usd.default(1).describe("What an operator's grant adds to the limit by default, in USD"),
      /** A grant of more than this (or of more than the scope's current limit) needs the operator's explicit yes. */
      confirm_above_usd: Usd.default(10).describe("A grant of more than this, or of more than the scope's current limit in that dimension, must be confirmed (CLI y/N or --yes, `top` y)"),
      grace: z
        .strictObject({ tokens: Count.default(5000).describe('Overdraft tokens'), cost_usd: Usd.default(0.1).describe('Overdraft in USD') })
        .prefault({})
        .describe('Overdraft a request marked `critical: true` may use once per scope without a prompt'),
    })
    .prefault({})
    .describe('Approval-mode scopes over their limit ask the operator'),
  reservations: z
    .strictObject({
      lease: Duration.default(300_000).describe('An uncommitted reservation is voided after this'),
      adaptive: z.boolean().default(false).describe('Size max_output_tokens from observed outputs'),
      default_max_output_tokens: Count.default(4096).describe('Output tokens reserved when a request names no maximum'),
    })
    .prefault({})
    .describe('Reservations hold the worst-case cost of a call until it reports its usage'),
  breakers: z
    .strictObject({
      denials: z
        .strictObject({
          threshold: Count.default(5).describe("Consecutive budget/policy denials of one agent that open its breaker (kills and operator answers never count)"),
          reset: Duration.default(300_000).describe('How long an open breaker refuses requests (CIRCUIT_OPEN) before it half-opens'),
          // Trial requests admitted while half-open; each is remembered until it is decided.
          half_open: Count.max(1000, 'must be at most 1000').default(3).describe('Trial requests let through while half-open; all granted closes it, one denied opens it again'),
          // Consecutive denials across all of a user's agents with no grant between them;
          // SPEC §3 gives agents and users one N, so unset it follows `threshold`.
          user_threshold: Count.optional().describe("Different agents of one user denied in a row, with no grant between, that open the user's breaker; unset: threshold"),
        })
        .transform((d) => ({ ...d, user_threshold: d.user_threshold ?? d.threshold }))
        .prefault({})
        .describe('Denial circuit breakers, per agent and per user'),
      // Any window up to 366d is honoured: each task and agent keeps 60 buckets of window/60.
      burn_rate: z
        .strictObject({
          window: Duration.default(600_000).describe('Sliding window, up to 366d; spend is counted in sixtieths of it'),
          cost_usd: Usd.optional().describe('Spend within the window that opens the breaker; unset: this breaker is off'),
          cooldown: Duration.default(1_200_000).describe('How long a tripped burn-rate breaker stays open'),
        })
        .prefault({})
        .describe('Burn-rate breakers, per task and per agent'),
    })
    .prefault({})
    .describe('Circuit breakers'),
  detectors: z
    .strictObject({
      loop: z
        .strictObject({
          repeats: Count.default(5).describe('The same (tool, args_hash) this many times in a row is a loop'),
          window: Duration.default(600_000).describe('Time the repeats must fall within'),
          allow: z.array(z.string()).default([]).describe('Tools never reported as loops'),
          // Also treat the same model with the same input size as a repeat (retrying one prompt).
          match_input_size: z.boolean().default(false).describe('Also count the same model with the same input size as a repeat (a retried prompt)'),
        })
        .prefault({})
        .describe('Loop detector → LOOP_DETECTED'),
      amplification: z
        .strictObject({
          factor: z.number().min(1).max(1000).default(4).describe("Growth of an agent's input tokens over its first call's that trips it"),
          window: Duration.default(600_000).describe('Time the growth must happen within'),
          min_calls: Count.default(4).describe('Fewest calls it takes'),
          action: z.enum(['alert', 'deny']).default('alert').describe('alert, or deny with LOOP_DETECTED'),
        })
        .prefault({})
        .describe("Context amplification: an agent's input tokens growing call after call"),
      fanout: z
        .strictObject({
          children: Count.default(10).describe('Most children one agent may delegate to'),
          depth: Count.default(3).describe('Deepest delegation'),
        })
        .prefault({})
        .describe('Fan-out limits, per agent → FANOUT_LIMIT'),
      // In-flight reservations; unlimited unless set (the example config sets agent 8, task 32).
      concurrency: z
        .strictObject({
          agent: Count.optional().describe('In-flight reservations per agent; unset: unlimited'),
          task: Count.optional().describe('In-flight reservations per task; unset: unlimited'),
        })
        .prefault({})
        .describe('Concurrency limits → RATE_LIMITED'),
    })
    .prefault({})
    .describe('Runaway detectors'),
  tools: z
    .record(z.string(), ToolPolicy)
    .default({})
    .describe('Tool permissions, by the `tool` a request names; a tool not listed follows the entry `default`, else auto'),
  routing: z
    .record(z.string(), z.string().describe('The cheaper model to suggest'))
    .default({})
    .describe('model: cheaper model, suggested (suggested_model) when a scope is at critical pressure'),
  alerts: z
    .strictObject({ webhook: z.url().optional().describe('URL that gets a JSON POST with a Slack-style `text` for every alert') })
    .prefault({})
    .describe('Alert delivery besides the TUI and the JSON log'),
  pricing: z
    .strictObject({
      default: DefaultPrice.default({ input: 1, output: 4 }).describe('Price of models the catalog does not know; never zero'),
      models: z
        .record(z.string(), ModelPriceOverride.describe("The model's prices; input and output are required unless `free: true`"))
        .default({})
        .describe('Per-model prices; a zero input or output price needs `free: true`'),
    })
    .prefault({})
    .describe('Prices in USD per million tokens, overriding the bundled model price catalog'),
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
