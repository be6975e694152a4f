import { Tokens, Usd } from '../shared/protocol/fields.js';

export type Amount = { readonly add_usd: number } | { readonly add_tokens: number };

const DOLLARS = /^\$?\s*(\d+(?:\.\d*)?|\.\d+)$/;
const TOKENS = /^(\d+(?:\.\d+)?)\s*(k|m)?\s*(?:t|tok|tokens?)$/i;

/** What the operator typed after `g`: dollars (`1.50`, `$2`) or tokens (`20000 tok`, `50k tok`). */
export function parseAmount(text: string): Amount | { readonly error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { error: 'type an amount: dollars like 1.50, or tokens like 20k tok' };
  // A grant only ever adds: zero or less is refused here, before anything is sent.
  if (/^-\s*\$?\s*[\d.]/.test(trimmed)) return { error: 'the amount must be more than 0: a grant only adds budget' };
  const dollars = DOLLARS.exec(trimmed);
  if (dollars) {
    const value = Number(dollars[1]);
    const checked = Usd.safeParse(value);
    if (!checked.success || value === 0) return { error: `dollars ${checked.success ? 'must be more than 0' : (checked.error.issues[0]?.message ?? 'out of range')}` };
    return { add_usd: value };
  }
  const tokens = TOKENS.exec(trimmed);
  if (tokens) {
    const scale = tokens[2]?.toLowerCase() === 'k' ? 1_000 : tokens[2]?.toLowerCase() === 'm' ? 1_000_000 : 1;
    const value = Math.round(Number(tokens[1]) * scale);
    const checked = Tokens.safeParse(value);
    if (!checked.success || value === 0) return { error: `tokens ${checked.success ? 'must be more than 0' : (checked.error.issues[0]?.message ?? 'out of range')}` };
    return { add_tokens: value };
  }
  return { error: `not an amount: "${trimmed}" (dollars like 1.50, or tokens like 20k tok)` };
}
