import { type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Lane, inLane } from '../admission.ts';
import { waitUntil } from './support/wait.ts';

// A lane of one slot and no line, on a real HTTP server and real sockets. The answer is larger than the kernel's
// socket buffers take on loopback, and written as the GraphQL server writes one: write, then wait for 'drain'.
const LARGE_ANSWER_BYTES = 32 * 1024 * 1024;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Writes `body` and waits for the socket to take it, as @whatwg-node/server's writer does (it never hears 'close'). */
function writeLikeTheGraphqlServer(res: ServerResponse, body: Buffer, seen: { writeBlocked: boolean; drained: boolean; settled: boolean }): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
  const work = (async () => {
    if (!res.write(body)) {
      seen.writeBlocked = true;
      await new Promise<void>((resolve) => res.once('drain', resolve));
      seen.drained = true;
    }
    res.end();
  })();
  return work.finally(() => {
    seen.settled = true;
  });
}

describe('a lane slot held by an answer the client stopped reading', () => {
  it('comes back when the client leaves in the middle of the answer, though the writer never hears of it', async () => {
    const lane = new Lane('api-release-test', { maxInFlight: 1, maxQueued: 0 });
    const large = Buffer.alloc(LARGE_ANSWER_BYTES, 120);
    const first = { writeBlocked: false, drained: false, settled: false };
    let requests = 0;
    server = createServer((req, res) => {
      requests += 1;
      const small = req.url === '/small';
      void inLane(lane, req, res, false, () =>
        small ? void res.end('ok') : writeLikeTheGraphqlServer(res, large, first),
      );
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    // A client that asks for the large answer, reads its first bytes, stops reading, then goes away.
    const client = connect(port, '127.0.0.1');
    await new Promise<void>((resolve) => client.once('connect', resolve));
    client.write('GET /large HTTP/1.1\r\nHost: lifeline\r\n\r\n');
    await new Promise<void>((resolve) => client.once('data', () => resolve()));
    client.pause();
    await waitUntil("the server's write waiting for a drain", async () => (first.writeBlocked ? true : undefined));

    // While it is held, the lane is full: the next request is refused.
    const refused = await fetch(`http://127.0.0.1:${port}/small`);
    expect(refused.status).toBe(503);
    await refused.arrayBuffer();

    client.destroy();
    const served = await waitUntil('a request served after the client left', async () => {
      const response = await fetch(`http://127.0.0.1:${port}/small`);
      const text = await response.text();
      return response.status === 200 ? text : undefined;
    });
    expect(served).toBe('ok');
    // The fault landed: the writer is still waiting for its drain (it never comes), yet the slot came back.
    expect(first).toEqual({ writeBlocked: true, drained: false, settled: false });
    expect(requests).toBeGreaterThanOrEqual(3);
  });

  it('comes back when the work finishes, with the connection still open', async () => {
    const lane = new Lane('api-release-test-2', { maxInFlight: 1, maxQueued: 0 });
    server = createServer((req, res) => void inLane(lane, req, res, false, () => void res.end(req.url)));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // One after another on kept-alive connections: each finds the slot given back by the one before.
    for (const path of ['/a', '/b', '/c']) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe(path);
    }
  });
});
