import type { DenyCode } from '../shared/protocol/agent.js';

/** Counters for the closing summary; every one is a small integer or a map over the fixed deny codes. */
export class DemoStats {
  calls = 0;
  agents = 0;
  readonly denials = new Map<DenyCode, number>();

  denied(code: DenyCode): void {
    this.denials.set(code, (this.denials.get(code) ?? 0) + 1);
  }

  /** `BUDGET_EXCEEDED 9, CIRCUIT_OPEN 41`, most frequent first; `none` without denials. */
  denialSummary(): string {
    const parts = [...this.denials].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`);
    return parts.length > 0 ? parts.join(', ') : 'none';
  }
}
