import { randomBytes } from 'node:crypto';
import { jitter, type Pace, type Random } from './pace.js';

/**
 * A stand-in for an LLM API: answers after a realistic latency with realistic token counts,
 * never touches the network, and — like a real provider — never writes more than `max_tokens`.
 */

export interface FakeRequest {
  readonly model: string;
  readonly inputTokens: number;
  /** What went into the request as `max_tokens`: the grant's `max_output_tokens`. */
  readonly maxTokens: number;
  /** How long the answer would be without a cap. */
  readonly naturalOutputTokens: number;
  readonly signal: AbortSignal;
}

export interface FakeResponse {
  readonly id: string;
  readonly model: string;
  readonly usage: { readonly input_tokens: number; readonly output_tokens: number };
  /** `max_tokens` when the cap cut the answer short. */
  readonly stopReason: 'end_turn' | 'max_tokens';
  readonly sentMaxTokens: number;
}

const MIN_LATENCY_MS = 100;
const MAX_LATENCY_MS = 800;
/** Bigger models think slower; unknown ones take the middle. */
const SLOWNESS: Readonly<Record<string, number>> = { 'gpt-4o-mini': 0.6, 'gpt-4o': 1, 'claude-sonnet-4': 1.1, 'claude-opus-4-1': 1.5 };

export class FakeProvider {
  private calls = 0;

  constructor(
    private readonly pace: Pace,
    private readonly random: Random,
  ) {}

  get callCount(): number {
    return this.calls;
  }

  async complete(req: FakeRequest): Promise<FakeResponse> {
    req.signal.throwIfAborted();
    const natural = Math.max(1, Math.round(jitter(this.random, req.naturalOutputTokens, 0.25)));
    const output = Math.min(natural, req.maxTokens);
    await this.pace.sleep(this.latencyMs(req.model, req.inputTokens, output), req.signal);
    this.calls += 1;
    return {
      id: `fake-${randomBytes(8).toString('hex')}`,
      model: req.model,
      usage: { input_tokens: req.inputTokens, output_tokens: output },
      stopReason: output < natural ? 'max_tokens' : 'end_turn',
      sentMaxTokens: req.maxTokens,
    };
  }

  /** Time to first token grows with the prompt, then a fraction of a millisecond per output token. */
  private latencyMs(model: string, input: number, output: number): number {
    const base = (80 + input / 100 + output * 0.5) * (SLOWNESS[model] ?? 1);
    return Math.min(MAX_LATENCY_MS, Math.max(MIN_LATENCY_MS, jitter(this.random, base, 0.2)));
  }
}
