import type { WebSocket, WebSocketServer } from 'ws';

/**
 * The kill switch's floor: a bare `ws` server that answers the kill bench's frames with no
 * budget logic at all — hello → welcome; an operator's kill → `ws.send` of one kill frame to
 * every agent, then its result; resume → result; reserve → deny KILLED. What is left of the
 * daemon's kill latency above this is the daemon's own.
 */
export function serveBroadcast(wss: WebSocketServer): void {
  const agents = new Set<WebSocket>();
  wss.on('connection', (ws, req) => {
    const operator = req.url?.startsWith('/v1/operator') === true;
    if (!operator) {
      agents.add(ws);
      ws.on('close', () => agents.delete(ws));
    }
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as { type?: string; id?: string };
      if (f.type === 'hello') ws.send(JSON.stringify({ type: 'welcome', v: 1 }));
      else if (operator && f.type === 'kill') {
        const frame = JSON.stringify({ type: 'kill', scope: 'global', reason: 'bench' });
        for (const a of agents) a.send(frame);
        ws.send(JSON.stringify({ type: 'result', id: f.id, ok: true, message: `killed global: reached ${agents.size} agents` }));
      } else if (operator) ws.send(JSON.stringify({ type: 'result', id: f.id, ok: true, message: 'ok' }));
      else ws.send(JSON.stringify({ type: 'deny', id: f.id, code: 'KILLED', scope: 'global', message: 'killed' }));
    });
  });
}
