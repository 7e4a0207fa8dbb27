import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Bounded request bodies, for every endpoint of Lifeline's HTTP server. Node reads a body only as fast as someone
 * consumes it, so the bound holds as long as nobody reads past it: a body that says it is too large is refused
 * before a byte is read, and one sent without a length (chunked) is read only until it passes the bound.
 */

/** A body larger than its endpoint accepts, by its Content-Length or by the bytes that arrived. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`The request body is larger than ${limit} bytes, the most this endpoint accepts.`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * A body read whole, within its endpoint's bound, handed to Yoga's Node adapter as `req.body`. Not the Buffer itself:
 * the adapter counts a body's own keys to tell an empty one, which for a Buffer is one string per byte (a 1 MB body
 * cost 280 ms of CPU before any GraphQL ran). Its one key says it is not empty; Yoga reads it as an async iterable.
 */
export class ReadBody implements AsyncIterable<Buffer> {
  constructor(readonly bytes: Buffer) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    yield this.bytes;
  }
}

/** True when the request announces a body longer than `limit` bytes. */
export function declaresBodyOver(req: IncomingMessage, limit: number): boolean {
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) > limit;
}

/**
 * Reads the whole body, at most `limit` bytes. Past the bound it stops reading and rejects with BodyTooLargeError,
 * leaving the connection open so the caller can still answer 413 (see refuseBodyTooLarge).
 */
export function readBoundedBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (declaresBodyOver(req, limit)) return Promise.reject(new BodyTooLargeError(limit));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > limit) {
        stop();
        // Paused, not destroyed: destroying the request would close the socket before the 413 could be sent.
        req.pause();
        chunks.length = 0;
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(buffer);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** How much of the rest of a refused body is read (and dropped) before the connection is closed; see below. */
const LINGER_BYTES = 64 * 1024 * 1024;
const LINGER_MS = 1_000;

/**
 * Answers 413, then closes the connection without reading the rest of the body into memory. Not at once: a socket
 * closed while unread bytes wait in it is reset, and a client still busy sending sees the reset (its next
 * write fails) before it reads the 413. So the rest is read and dropped for a moment, at most LINGER_MS and
 * LINGER_BYTES (it costs a little CPU, no memory), then the connection ends: gracefully if the body ended by then,
 * by a reset otherwise.
 */
export function refuseBodyTooLarge(req: IncomingMessage, res: ServerResponse, limit: number, advice: string): void {
  const socket = req.socket;
  if (res.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code: 'PAYLOAD_TOO_LARGE', message: `The request body is over ${limit} bytes. ${advice}` } });
  res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
  let dropped = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) socket.destroy();
  });
  req.once('end', () => socket.end());
  req.resume();
}
