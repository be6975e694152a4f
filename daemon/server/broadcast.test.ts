import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { textFrame, writeFrame } from './broadcast.js';

describe('frames built once for many sockets', () => {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  afterAll(() => {
    wss.close();
    http.close();
  });

  it('arrive as the same text messages ws.send would give, in order with ws.send frames, at every length form', async () => {
    const accepted = new Promise<{ ws: WebSocket; socket: Duplex }>((resolve) => {
      http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => resolve({ ws, socket })));
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
    const texts = ['{"type":"kill"}', `{"pad":"${'x'.repeat(300)}"}`, `{"pad":"${'y'.repeat(70_000)}"}`];
    const received: Array<{ text: string; binary: boolean }> = [];
    const all = new Promise<void>((resolve) => {
      client.on('message', (data, binary) => {
        received.push({ text: data.toString(), binary });
        if (received.length === texts.length + 1) resolve();
      });
    });
    const { ws, socket } = await accepted;
    await new Promise((r) => client.once('open', r));
    for (const t of texts) writeFrame(socket, Buffer.from(t));
    ws.send('after');
    await all;
    client.close();
    expect(received).toEqual([...texts.map((text) => ({ text, binary: false })), { text: 'after', binary: false }]);
  });

  it('builds a payload’s frame once', () => {
    const payload = Buffer.from('{"type":"kill"}');
    expect(textFrame(payload)).toBe(textFrame(payload));
    expect([...textFrame(payload).subarray(0, 2)]).toEqual([0x81, payload.length]);
  });
});
