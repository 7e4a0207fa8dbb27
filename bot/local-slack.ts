import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBoundedBody } from '../request-body.ts';
import { blocksToPlainText } from './views/plain-text.ts';

/**
 * Local mode: with no SLACK_BOT_TOKEN, the bot's WebClient points here instead of at Slack. Every call is
 * answered like Slack would, printed readably to the console, and kept for the preview page, so the whole
 * delivery path runs unchanged on a laptop.
 */
export const LOCAL_SLACK_PATH = '/local-slack';

export interface LocalSlackMessage {
  method: string;
  channel: string;
  ts: string;
  text: string;
  rendered: string;
  at: Date;
}

export interface LocalSlack {
  messages: LocalSlackMessage[];
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
}

const KEEP = 200;

/**
 * The largest Web API call accepted, in bytes. The biggest the bot makes is a view (Slack refuses views over about
 * 250 kB), sent form-encoded, which can triple its size; in local mode this endpoint is as reachable as the rest.
 */
export const LOCAL_SLACK_BODY_LIMIT = 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = (await readBoundedBody(req, LOCAL_SLACK_BODY_LIMIT)).toString('utf8');
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
    const parsed: unknown = raw === '' ? {} : JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? Object.fromEntries(Object.entries(parsed)) : {};
  }
  const body: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    // The Web API client sends nested fields (blocks, view) as JSON strings inside the form.
    body[key] = /^[[{]/.test(value) ? JSON.parse(value) : value;
  }
  return body;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function createLocalSlack(print: (line: string) => void): LocalSlack {
  const messages: LocalSlackMessage[] = [];
  let sequence = 0;
  const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++sequence).padStart(6, '0')}`;

  function record(method: string, body: Record<string, unknown>): LocalSlackMessage {
    const channel = typeof body.channel === 'string' ? body.channel : typeof body.user_id === 'string' ? `home:${body.user_id}` : '(none)';
    const ts = typeof body.ts === 'string' ? body.ts : nextTs();
    const text = typeof body.text === 'string' ? body.text : '';
    const view = typeof body.view === 'object' && body.view !== null ? body.view : undefined;
    const rendered = blocksToPlainText(view ? Reflect.get(view, 'blocks') : body.blocks) || text;
    const message = { method, channel, ts, text, rendered, at: new Date() };
    messages.unshift(message);
    messages.length = Math.min(messages.length, KEEP);
    print(`\n┌─ Slack ${method} → ${channel}\n${rendered.replace(/^/gm, '│ ')}\n└─`);
    return message;
  }

  function answer(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  return {
    messages,
    async handle(req, res, path) {
      if (path === `${LOCAL_SLACK_PATH}/preview` && req.method === 'GET') {
        const items = messages
          .map(
            (message) =>
              `<article><header>${escapeHtml(message.method)} → ${escapeHtml(message.channel)} <time>${message.at.toISOString()}</time></header><pre>${escapeHtml(message.rendered)}</pre></article>`,
          )
          .join('\n');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>Lifeline · local Slack preview</title>` +
            `<style>body{font:14px system-ui;margin:2rem;max-width:60rem}article{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}header{color:#555}pre{white-space:pre-wrap}</style>` +
            `<h1>What Lifeline would have posted to Slack</h1>${items || '<p>Nothing yet.</p>'}`,
        );
        return;
      }
      const method = path.startsWith(`${LOCAL_SLACK_PATH}/api/`) ? path.slice(`${LOCAL_SLACK_PATH}/api/`.length) : '';
      if (req.method !== 'POST' || method === '') {
        answer(res, 404, { ok: false, error: 'unknown_method' });
        return;
      }
      const body = await readBody(req);
      switch (method) {
        case 'auth.test':
          answer(res, 200, { ok: true, url: 'http://localhost/', team: 'Local', user: 'lifeline', team_id: 'TLOCAL', user_id: 'ULIFELINE', bot_id: 'BLIFELINE' });
          return;
        case 'chat.postMessage':
        case 'chat.update':
        case 'chat.postEphemeral': {
          const message = record(method, body);
          answer(res, 200, { ok: true, channel: message.channel, ts: message.ts, message_ts: message.ts });
          return;
        }
        case 'views.publish':
        case 'views.open':
        case 'views.update':
        case 'views.push':
          record(method, body);
          answer(res, 200, { ok: true, view: { id: `VLOCAL${++sequence}` } });
          return;
        case 'conversations.open':
          answer(res, 200, { ok: true, channel: { id: `D${String(body.users ?? 'LOCAL')}` } });
          return;
        default:
          answer(res, 200, { ok: true });
      }
    },
  };
}
