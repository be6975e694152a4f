import { createRequire } from 'node:module';
import type WS from 'ws';

/**
 * The `ws` package, loaded with `require` on the paths where start-up counts (`status --line`,
 * the Claude Code hook): node imports a CommonJS package into an ES module file by file — ws's
 * ES wrapper re-imports its eight files, each scanned for its exports — which takes about 15 ms
 * more than `require`, a quarter of node's own start-up. Same module, same types.
 */
export const WebSocket: typeof WS = createRequire(import.meta.url)('ws');
export type WebSocket = WS;
export type { RawData } from 'ws';
