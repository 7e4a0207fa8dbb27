// Serving the pages Lifeline ships (GraphiQL, the dashboard, the Slack simulator): one Content-Security-Policy for
// pages that load only their own files, and one way to answer for a file with its ETag.
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * SECURITY: a page may run only this server's scripts and styles and ask only this server; no inline script or
 * style, no frames, no forms posting elsewhere. Canvas sizing through the CSSOM (element.style, as uPlot does) is
 * not governed by a style policy, so styles stay 'self'.
 */
export const STRICT_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface StaticFile {
  body: Buffer | string;
  contentType: string;
  etag: string;
}

/** Answers GET or HEAD for a file: 304 when the client holds this version, else the file; `headers` add to the defaults. */
export function sendStaticFile(req: IncomingMessage, res: ServerResponse, file: StaticFile, headers: Record<string, string> = {}): void {
  const all = { 'content-type': file.contentType, etag: file.etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', ...headers };
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, all);
    res.end();
    return;
  }
  res.writeHead(200, all);
  res.end(req.method === 'HEAD' ? undefined : file.body);
}
