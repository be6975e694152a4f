import { describe, expect, it } from 'vitest';
import { Actor } from '../protocol/operator.js';
import { cliActor } from './actor.js';

describe('cliActor', () => {
  it('is cli:<user>@<host>, and always a valid protocol Actor', () => {
    expect(cliActor('alice', 'box.lan')).toBe('cli:alice@box.lan');
    for (const [user, host] of [['Jöhn Doe', 'h'], ['', ''], ['u'.repeat(80), 'h'.repeat(80)], ['a', 'very-long-host-'.repeat(8)]] as const) {
      const a = cliActor(user, host);
      expect(Actor.safeParse(a).success).toBe(true);
      expect(a.startsWith('cli:')).toBe(true);
    }
    expect(cliActor('Jöhn Doe', 'h')).toBe('cli:J_hn_Doe@h');
    expect(Actor.safeParse(cliActor()).success).toBe(true);
  });
});
