import { z } from 'zod';

/** The provider proxy's config (`proxy:`): upstreams by name, served at `/proxy/<name>/…`. */

const UpstreamName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be 1-32 lowercase letters, digits, _ or -');

export const Upstream = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).describe('Base URL that replaces `/proxy/<name>` in the forwarded URL'),
  format: z.enum(['openai', 'anthropic']).describe('The API format the upstream speaks'),
  /** The environment variable holding this upstream's API key, sent instead of a spendguard key. */
  api_key_env: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
    .optional()
    .describe("Environment variable holding the upstream's API key, sent upstream when the caller used a spendguard key"),
});

export const DEFAULT_UPSTREAMS = {
  openai: { url: 'https://api.openai.com', format: 'openai' as const, api_key_env: 'OPENAI_API_KEY' },
  anthropic: { url: 'https://api.anthropic.com', format: 'anthropic' as const, api_key_env: 'ANTHROPIC_API_KEY' },
};

export const ProxyConfig = z
  .strictObject({
    // Named upstreams; `openai` and `anthropic` exist unless redefined here.
    upstreams: z
      .record(UpstreamName, Upstream.describe('An upstream, served at `/proxy/<name>/…`'))
      .default({})
      .describe('Upstreams by name; `openai` and `anthropic` exist unless redefined here'),
    // Request bodies above this are refused 413 (images and long contexts are big).
    max_body_bytes: z
      .number()
      .int('must be a whole number')
      .min(1024, 'must be at least 1024')
      .max(1024 ** 3, 'must be at most 1 GiB')
      .default(64 * 1024 ** 2)
      .describe('Request bodies above this many bytes are refused 413'),
  })
  .prefault({})
  .describe("The provider proxy: point an agent's base URL at `/proxy/<name>/…` and every call is reserved, clamped, metered and killable");

export type Upstream = z.infer<typeof Upstream>;
export type ProxyConfig = z.infer<typeof ProxyConfig>;

/** The upstream served at `/proxy/<name>`: the config's, else a default of that name (own keys only: `name` comes from a URL). */
export function upstreamNamed(config: ProxyConfig, name: string): Upstream | undefined {
  if (Object.hasOwn(config.upstreams, name)) return config.upstreams[name];
  return Object.hasOwn(DEFAULT_UPSTREAMS, name) ? DEFAULT_UPSTREAMS[name as keyof typeof DEFAULT_UPSTREAMS] : undefined;
}
