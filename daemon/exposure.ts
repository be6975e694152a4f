import { BlockList, isIP } from 'node:net';

/**
 * Who can reach the daemon, and so whether the shared `agent.token` may still be used (SPEC §8).
 * On loopback every agent is a local process of a one-user machine and the shared token is the
 * default. Beyond loopback agents on the network can connect, so only keys bound to a scope are
 * accepted, unless the operator says `--unsafe-shared-token-on-network`.
 *
 * Decided from the text of `listen`, never from DNS: the same flags give the same answer on
 * every machine, and a hostname other than `localhost` may resolve to any interface, so it
 * counts as the network.
 */

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (also written in full or IPv4-mapped, ::ffff:127.x.y.z) and `localhost`. `0.0.0.0` and `::` are every interface. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family === 4) return LOOPBACK.check(bare, 'ipv4');
  if (family === 6) return LOOPBACK.check(bare, 'ipv6');
  return /^localhost\.?$/i.test(bare);
}

/** The host of `host:port` (the port is after the last colon). */
export function hostOfListen(listen: string): string {
  return listen.slice(0, listen.lastIndexOf(':'));
}

export interface ExposureAsk {
  /** Host part of the address the daemon listens on. */
  readonly host: string;
  /** `--require-keys` or the config's `require_keys`. */
  readonly requireKeys: boolean;
  /** `--unsafe-shared-token-on-network`. */
  readonly unsafeSharedTokenOnNetwork: boolean;
}

export interface Exposure {
  readonly loopback: boolean;
  /** Agents must authenticate with a key bound to a scope; the shared agent token is refused. */
  readonly requireKeys: boolean;
  /** Lines for the log at warn level; none on loopback with the defaults. */
  readonly warnings: readonly string[];
}

export const UNSAFE_FLAG = '--unsafe-shared-token-on-network';

export function decideExposure(ask: ExposureAsk): Exposure {
  const loopback = isLoopbackHost(ask.host);
  if (loopback) {
    const warnings = ask.unsafeSharedTokenOnNetwork ? [`${UNSAFE_FLAG} has no effect: the daemon listens on loopback (${ask.host}) only`] : [];
    return { loopback, requireKeys: ask.requireKeys, warnings };
  }
  const reach = `listening on ${ask.host}, beyond loopback: agents on the network can reach the daemon, over unencrypted ws:// and http://`;
  if (ask.unsafeSharedTokenOnNetwork && !ask.requireKeys) {
    return {
      loopback,
      requireKeys: false,
      warnings: [`${reach}; ${UNSAFE_FLAG} keeps the shared agent token, so anyone on the network who has it can act as any agent`],
    };
  }
  const overridden = ask.unsafeSharedTokenOnNetwork ? ` (${UNSAFE_FLAG} is overridden by --require-keys / require_keys)` : ` (${UNSAFE_FLAG} would accept it anyway)`;
  return {
    loopback,
    requireKeys: true,
    warnings: [`${reach}; keys are required: agents must use a key bound to a scope (spendguard keys create <scope>), the shared agent token is refused${overridden}`],
  };
}
