import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COST } from './deltas.js';
import { EngineDriver } from './testing.js';

describe('runaway properties', () => {
  it('a breaker never grants while open, and half-open closes after exactly the configured trials', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.oneof(fc.record({ usd: fc.integer({ min: 1, max: 800 }) }), fc.record({ wait: fc.integer({ min: 1, max: 200 }) })), { maxLength: 150 }),
        (threshold, halfOpen, steps) => {
          const d = new EngineDriver({ limits: { task: { cost_usd: 1 } }, breakers: { denials: { threshold, reset: '60s', half_open: halfOpen } } });
          const c = d.connect({ agent: 'b', session: 's', task: 't' });
          const agent = d.engine.scopes.get('agent:b' as never);
          if (!agent) throw new Error();
          let trialsGranted = 0;
          let n = 0;
          for (const step of steps) {
            if ('wait' in step) {
              d.advance(step.wait * 1000);
              continue;
            }
            const before = d.engine.runaway.breakerState(agent, d.now);
            const r = d.request(c, { type: 'reserve', id: `r${n++}`, cost_usd: step.usd / 1000 });
            const after = d.engine.runaway.breakerState(agent, d.now);
            if (before === 'open') expect(r).toMatchObject({ type: 'deny', code: 'CIRCUIT_OPEN' });
            if (before === 'half-open') {
              if (r.type === 'grant') {
                trialsGranted += 1;
                expect(after).toBe(trialsGranted >= halfOpen ? 'closed' : 'half-open');
              } else {
                expect(after).toBe('open');
                trialsGranted = 0;
              }
            }
            if (after !== 'half-open') trialsGranted = 0;
            if (r.type === 'grant') d.request(c, { type: 'release', id: `l${n}`, reservation: r.reservation });
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fair share never lets one child exceed max_share of its parent', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }).map((x) => x / 10),
        fc.array(fc.record({ who: fc.integer({ min: 0, max: 3 }), usd: fc.integer({ min: 1, max: 400 }), commit: fc.double({ min: 0, max: 1, noNaN: true }) }), { maxLength: 80 }),
        (share, steps) => {
          const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' }, agent: { max_share: share } } });
          const conns = [0, 1, 2, 3].map((i) => d.connect({ agent: `a${i}`, session: 's', task: 't' }));
          let n = 0;
          for (const s of steps) {
            const c = conns[s.who] as number;
            const r = d.request(c, { type: 'reserve', id: `r${n++}`, cost_usd: s.usd / 1000 });
            if (r.type === 'grant') d.request(c, { type: 'commit', id: `c${n}`, reservation: r.reservation, input_tokens: 0, output_tokens: 0, cost_usd: Math.floor(r.cost_usd * 1e9 * s.commit) / 1e9 });
            for (let i = 0; i < 4; i++) {
              const agent = d.engine.scopes.get(`agent:a${i}` as never);
              if (!agent) continue;
              const used = (agent.counters.life[COST] ?? 0) + (agent.reserved[COST] ?? 0);
              expect(used).toBeLessThanOrEqual(Math.floor(1e9 * share));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
