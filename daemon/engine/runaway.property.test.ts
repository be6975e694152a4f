import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COST } from './deltas.js';
import { EngineDriver } from './testing.js';

describe('runaway properties', () => {
  it('a breaker never grants while open, and half-open closes after exactly the configured trials', () => {
    let openSteps = 0;
    let halfOpenSteps = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.oneof(
            { weight: 6, arbitrary: fc.record({ usd: fc.integer({ min: 1, max: 800 }), commit: fc.boolean() }) },
            { weight: 2, arbitrary: fc.record({ wait: fc.integer({ min: 1, max: 90 }) }) },
            { weight: 1, arbitrary: fc.record({ raise: fc.integer({ min: 1, max: 2 }) }) },
          ),
          { minLength: 40, maxLength: 150 },
        ),
        (threshold, halfOpen, steps) => {
          // A small cap that committed spend soon exhausts, and operator grants that reopen room:
          // denials, open breakers and half-open trials that pass and that fail all happen.
          const d = new EngineDriver({ limits: { task: { cost_usd: 0.5 } }, breakers: { denials: { threshold, reset: '60s', half_open: halfOpen } } });
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
            if ('raise' in step) {
              d.operator({ type: 'grant', id: `o${n++}`, target: 'task:t', add_usd: step.raise / 2 });
              continue;
            }
            const before = d.engine.runaway.breakerState(agent, d.now);
            if (before === 'open') openSteps += 1;
            if (before === 'half-open') halfOpenSteps += 1;
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
            if (r.type !== 'grant') continue;
            if (step.commit) d.request(c, { type: 'commit', id: `c${n}`, reservation: r.reservation, input_tokens: 0, output_tokens: 0, cost_usd: r.cost_usd });
            else d.request(c, { type: 'release', id: `l${n}`, reservation: r.reservation });
          }
        },
      ),
      { numRuns: 300 },
    );
    // The property is about open and half-open breakers: make sure the runs really reached them.
    expect(openSteps).toBeGreaterThan(1_000);
    expect(halfOpenSteps).toBeGreaterThan(300);
  });

  it("min_share keeps a connected sibling's unused share within its reach however greedy the others are", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }).map((x) => x / 10),
        fc.array(fc.record({ who: fc.integer({ min: 0, max: 2 }), usd: fc.integer({ min: 1, max: 600 }), commit: fc.boolean() }), { minLength: 10, maxLength: 60 }),
        (share, steps) => {
          const d = new EngineDriver({ limits: { task: { cost_usd: 1, mode: 'hard' }, agent: { min_share: share } } });
          const conns = [0, 1, 2].map((i) => d.connect({ agent: `a${i}`, session: 's', task: 't' }));
          const quota = Math.floor(1e9 * share);
          let n = 0;
          for (const s of steps) {
            const c = conns[s.who] as number;
            const r = d.request(c, { type: 'reserve', id: `r${n++}`, cost_usd: s.usd / 1000 });
            if (r.type === 'grant') {
              if (s.commit) d.request(c, { type: 'commit', id: `c${n}`, reservation: r.reservation, input_tokens: 0, output_tokens: 0, cost_usd: r.cost_usd });
              else d.request(c, { type: 'release', id: `l${n}`, reservation: r.reservation });
            }
            // Whatever the others did, every agent can still get what is left of its own share.
            for (let i = 0; i < 3; i++) {
              const agent = d.engine.scopes.get(`agent:a${i}` as never);
              const used = (agent?.counters.life[COST] ?? 0) + (agent?.reserved[COST] ?? 0);
              const left = quota - used;
              if (left <= 0) continue;
              const probe = d.request(conns[i] as number, { type: 'reserve', id: `q${n++}`, cost_usd: left / 1e9 });
              expect(probe.type, `agent a${i} refused ${left} nano of its share`).toBe('grant');
              if (probe.type === 'grant') d.request(conns[i] as number, { type: 'release', id: `q${n++}`, reservation: probe.reservation });
            }
          }
        },
      ),
      { numRuns: 200 },
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
