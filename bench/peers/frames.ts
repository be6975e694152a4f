/**
 * The subset of protocol v1 that the peer servers speak (hello, reserve, commit), read without
 * validation: a peer trusts every frame it is sent. Shared by the naive, Redis and floor peers so
 * that they count the same amounts.
 *
 * A reserve that names `cost_usd` asks for money (counted in micro-USD); one that does not asks
 * for tokens: `input_tokens` + `max_output_tokens` (4,096 when unnamed, the daemon's default).
 * Each unit has its own counter per task and its own cap, so USD and token caps never mix.
 */

export interface PeerFrame {
  readonly type?: string;
  readonly id?: string;
  readonly task?: string;
  readonly reservation?: string;
  readonly cost_usd?: number;
  readonly input_tokens?: number;
  readonly max_output_tokens?: number;
  readonly output_tokens?: number;
}

export type Unit = 'usd' | 'tok';

export interface Ask {
  readonly unit: Unit;
  /** micro-USD or tokens, a whole number. */
  readonly amount: number;
}

/** Caps per task, per unit; a missing flag means no practical cap (1e12). */
export interface Caps {
  readonly usd_micro: number;
  readonly tokens: number;
}

const DEFAULT_MAX_OUTPUT_TOKENS = 4096;
const NO_CAP = 1e12;

export function parseFrame(data: Buffer | ArrayBuffer | Buffer[]): PeerFrame {
  return JSON.parse(data.toString()) as PeerFrame;
}

export function reserveAsk(f: PeerFrame): Ask {
  if (f.cost_usd !== undefined) return { unit: 'usd', amount: Math.round(f.cost_usd * 1e6) };
  return { unit: 'tok', amount: (f.input_tokens ?? 0) + (f.max_output_tokens ?? DEFAULT_MAX_OUTPUT_TOKENS) };
}

/** What a commit actually used, in the unit of the reservation it settles. */
export function commitAmount(f: PeerFrame, unit: Unit): number {
  return unit === 'usd' ? Math.round((f.cost_usd ?? 0) * 1e6) : (f.input_tokens ?? 0) + (f.output_tokens ?? 0);
}

export const capOf = (caps: Caps, unit: Unit): number => (unit === 'usd' ? caps.usd_micro : caps.tokens);

/** The counter's key: one per unit and task. */
export const counterKey = (unit: Unit, task: string): string => `${unit}:${task}`;

/** `--cap-usd N` and `--cap-tokens N` from a peer's argv (no `--cap-usd`: `defaultUsd`). */
export function parseCaps(args: readonly string[], defaultUsd = NO_CAP / 1e6): Caps {
  const num = (flag: string): number | undefined => {
    const i = args.indexOf(flag);
    if (i < 0) return undefined;
    const v = Number(args[i + 1]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a number ≥ 0`);
    return v;
  };
  return { usd_micro: Math.round((num('--cap-usd') ?? defaultUsd) * 1e6), tokens: num('--cap-tokens') ?? NO_CAP };
}

/** The value of `--name` in argv, or an error naming it. */
export function requiredArg(args: readonly string[], flag: string): string {
  const i = args.indexOf(flag);
  const v = i >= 0 ? args[i + 1] : undefined;
  if (v === undefined) throw new Error(`peer-server: ${flag} is required`);
  return v;
}
