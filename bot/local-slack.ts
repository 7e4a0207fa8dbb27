import { STRICT_PAGE_CSP } from '../static-files.ts';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Db } from '../db/client.ts';
import { systemReader } from '../domain/actors.ts';
import { listUsers } from '../domain/users.ts';
import { readBoundedBody } from '../request-body.ts';
import {
  type Choice,
  type RawValues,
  SimulatorInputError,
  appHomeOpenedEnvelope,
  clickedAction,
  elementIn,
  messageActionPayload,
  signSlackBody,
  slashCommandFields,
  slackRequestBody,
  viewActionPayload,
  viewSubmissionPayload,
} from './local-slack-payloads.ts';
import { type Json, LOCAL_TEAM_CHANNEL, type LocalPerson, type LocalSlackCall, type LocalWorkspace, createLocalWorkspace } from './local-slack-workspace.ts';

/**
 * Local mode: with no SLACK_BOT_TOKEN, the bot's WebClient points here instead of at Slack, and a page at
 * LOCAL_SLACK_PATH shows what Lifeline posted as Slack shows it, where people can click, choose, fill in modals,
 * open their Home tab and type `/lifeline …`. What the page does is sent to Lifeline as the request Slack would
 * send, signed with the signing secret, through the same /slack/events receiver (local-slack-payloads.ts); what
 * Lifeline calls back (Web API, response_url) is answered by the workspace (local-slack-workspace.ts). Every call
 * is also printed readably to the console.
 *
 * The server side lives in bot/ beside the receiver whose requests it imitates; the page's own files (plain ES
 * modules, no build step, no CDN) are in simulator/.
 */
export const LOCAL_SLACK_PATH = '/local-slack';

/**
 * The largest Web API call accepted, in bytes. The biggest the bot makes is a view (Slack refuses views over about
 * 250 kB), sent form-encoded, which can triple its size; in local mode this endpoint is as reachable as the rest.
 */
export const LOCAL_SLACK_BODY_LIMIT = 1024 * 1024;

/** SECURITY: the page loads only its own files and asks only this server (see STRICT_PAGE_CSP). */
export const SIMULATOR_CSP = STRICT_PAGE_CSP;

export interface LocalSlack {
  /** Every Web API call and response_url post, newest first, as the console printed it. */
  calls: LocalSlackCall[];
  workspace: LocalWorkspace;
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
}

export interface LocalSlackOptions {
  db: Db;
  print: (line: string) => void;
  /** Where Lifeline itself is reached from this process, e.g. http://127.0.0.1:3000. */
  selfUrl: string;
  /** Lifeline's Slack request endpoint, which the simulator's requests go to. */
  eventsPath: string;
  /** The secret the receiver checks; the simulator signs with it and never shows it. */
  signingSecret: string;
  /**
   * SECURITY: whether the page may act as the demo people. Only when Lifeline listens on loopback: anyone who can
   * reach the page can click as anyone.
   */
  interactive: boolean;
}

const files = new Map<string, { body: Buffer; contentType: string }>(
  (
    [
      ['index.html', 'text/html; charset=utf-8'],
      ['simulator.js', 'text/javascript; charset=utf-8'],
      ['mrkdwn.js', 'text/javascript; charset=utf-8'],
      ['blocks.js', 'text/javascript; charset=utf-8'],
      ['simulator.css', 'text/css; charset=utf-8'],
    ] as const
  ).map(([name, contentType]) => [name, { body: readFileSync(new URL(`../simulator/${name}`, import.meta.url)), contentType }]),
);

const choice = z.union([z.string().max(3000), z.array(z.string().max(3000)).max(100), z.null()]);
const rawValues = z.record(z.string().max(255), z.record(z.string().max(255), choice));
const actRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('command'), user: z.string(), channel: z.string().max(64), text: z.string().max(4000) }),
  z.object({
    type: z.literal('action'),
    user: z.string(),
    where: z.union([z.object({ channel: z.string(), ts: z.string() }), z.object({ viewId: z.string() })]),
    blockId: z.string().max(255),
    actionId: z.string().max(255),
    choice,
    values: rawValues.optional(),
  }),
  z.object({ type: z.literal('submit'), user: z.string(), viewId: z.string(), values: rawValues }),
  z.object({ type: z.literal('close'), user: z.string(), viewId: z.string() }),
  z.object({ type: z.literal('home'), user: z.string() }),
]);
type ActRequest = z.infer<typeof actRequest>;

const jsonObject = z.record(z.string(), z.unknown());
/** What a view submission's ack may answer (Slack's response_action), read as data. */
const submissionAnswer = z.object({
  response_action: z.enum(['errors', 'update', 'push', 'clear']).optional(),
  errors: z.record(z.string(), z.string()).optional(),
  view: jsonObject.optional(),
});

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/;

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const raw = (await readBoundedBody(req, LOCAL_SLACK_BODY_LIMIT)).toString('utf8');
  if ((req.headers['content-type'] ?? '').includes('application/json')) {
    const parsed: unknown = raw === '' ? {} : JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? Object.fromEntries(Object.entries(parsed)) : {};
  }
  const body: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    // The Web API client sends nested fields (blocks, view, metadata) as JSON strings inside the form.
    body[key] = /^[[{]/.test(value) ? JSON.parse(value) : value;
  }
  return body;
}

/** A person's problem with what they asked, said to them. */
class SimulatorRefusal extends Error {}

export function createLocalSlack(options: LocalSlackOptions): LocalSlack {
  const workspace = createLocalWorkspace({ responseUrlBase: `${options.selfUrl}${LOCAL_SLACK_PATH}/response/`, print: options.print });
  let peopleReadAt = 0;

  // Demo people are whoever is linked to Slack; read again now and then, so people added later appear.
  async function refreshPeople(): Promise<void> {
    if (Date.now() - peopleReadAt < 5_000) return;
    peopleReadAt = Date.now();
    const users = await listUsers(options.db, { reader: systemReader });
    workspace.setPeople(
      users.flatMap((user): LocalPerson[] => (user.slackUserId ? [{ id: user.slackUserId, name: user.name, role: user.role, email: user.email }] : [])),
    );
  }

  function personOf(id: string): LocalPerson {
    const person = workspace.people().find((candidate) => candidate.id === id);
    if (!person) throw new SimulatorRefusal(`Nobody with the Slack id ${id} is linked to Lifeline.`);
    return person;
  }

  /** Sends a request to Lifeline's receiver as Slack does, signed; answers its status and body. */
  async function sendToLifeline(kind: 'command' | 'interactive' | 'event', content: Json | Record<string, string>): Promise<{ status: number; text: string }> {
    const { body, contentType } = slackRequestBody(kind, content);
    const response = await fetch(`${options.selfUrl}${options.eventsPath}`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...signSlackBody(options.signingSecret, body) },
      body,
    });
    return { status: response.status, text: await response.text() };
  }

  function conversationName(id: string): string {
    return workspace.conversations().find((candidate) => candidate.id === id)?.name ?? id;
  }

  /** When Lifeline did not take a request, the person sees what Slack would show: that it failed, and how. */
  function failed(channel: string, user: string, what: string, status: number): void {
    workspace.postNotice(channel, user, `${what} failed: Lifeline answered HTTP ${status}. Its log says why.`);
  }

  async function command(request: Extract<ActRequest, { type: 'command' }>): Promise<void> {
    const person = personOf(request.user);
    const [word = '', ...rest] = request.text.trim().split(/\s+/);
    const channel = request.channel === '' ? LOCAL_TEAM_CHANNEL : request.channel;
    if (word !== '/lifeline') {
      workspace.postNotice(channel, person.id, `${word || 'That'} is not a command here. Type \`/lifeline help\`.`);
      return;
    }
    const responseUrl = workspace.issueResponseUrl({ channel, user: person.id });
    const fields = slashCommandFields({
      person,
      channel: { id: channel, name: conversationName(channel) },
      command: word,
      text: rest.join(' '),
      responseUrl,
      triggerId: workspace.issueTrigger(person.id),
    });
    const reply = await sendToLifeline('command', fields);
    if (reply.status !== 200) failed(channel, person.id, `\`${request.text.trim()}\``, reply.status);
    else if (reply.text.trim() !== '') {
      // An answer in the ack itself shows like a response_url post.
      let shown: Json = { text: reply.text };
      try {
        const parsed = jsonObject.safeParse(JSON.parse(reply.text));
        if (parsed.success) shown = parsed.data;
      } catch {
        // Plain text: shown as it is.
      }
      workspace.respond(new URL(responseUrl).pathname.split('/').pop() ?? '', shown);
    }
  }

  async function action(request: Extract<ActRequest, { type: 'action' }>): Promise<void> {
    const person = personOf(request.user);
    const triggerId = workspace.issueTrigger(person.id);
    if ('channel' in request.where) {
      const message = workspace.message(request.where.channel, request.where.ts);
      if (!message || (message.ephemeralTo !== undefined && message.ephemeralTo !== person.id)) throw new SimulatorRefusal('That message is gone.');
      const element = elementIn(message.blocks, request.blockId, request.actionId);
      if (!element) throw new SimulatorRefusal('That button or menu is not on the message any more.');
      const payload = messageActionPayload({
        person,
        channelName: conversationName(message.channel),
        message,
        action: clickedAction(element, request.blockId, request.choice),
        responseUrl: workspace.issueResponseUrl({ channel: message.channel, user: person.id, messageTs: message.ts }),
        triggerId,
      });
      const reply = await sendToLifeline('interactive', payload);
      if (reply.status !== 200) failed(message.channel, person.id, 'That click', reply.status);
      return;
    }
    const view = workspace.view(request.where.viewId);
    if (!view || view.user !== person.id) throw new SimulatorRefusal('That view is closed.');
    const element = elementIn(view.blocks, request.blockId, request.actionId);
    if (!element) throw new SimulatorRefusal('That button or menu is not in the view any more.');
    const payload = viewActionPayload({ person, view, raw: request.values ?? {}, action: clickedAction(element, request.blockId, request.choice), triggerId });
    const reply = await sendToLifeline('interactive', payload);
    if (reply.status !== 200) failed(`D${person.id}`, person.id, 'That click', reply.status);
  }

  async function submit(request: Extract<ActRequest, { type: 'submit' }>): Promise<void> {
    const person = personOf(request.user);
    const view = workspace.view(request.viewId);
    if (!view || view.user !== person.id || view.type !== 'modal') throw new SimulatorRefusal('That form is closed.');
    // Slack itself refuses a required input left empty, before the app hears of it.
    const missing: Record<string, string> = {};
    for (const block of view.blocks) {
      const element = jsonObject.safeParse(block.element).data;
      if (block.type !== 'input' || block.optional === true || !element) continue;
      const value = request.values[String(block.block_id)]?.[String(element.action_id)];
      if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) missing[String(block.block_id)] = 'Please complete this required field.';
    }
    if (Object.keys(missing).length > 0) {
      workspace.setViewErrors(view.id, missing);
      return;
    }
    workspace.setViewErrors(view.id, undefined);
    const reply = await sendToLifeline('interactive', viewSubmissionPayload({ person, view, raw: request.values, triggerId: workspace.issueTrigger(person.id) }));
    if (reply.status !== 200) {
      workspace.setViewErrors(view.id, { '': `We had some trouble connecting (Lifeline answered HTTP ${reply.status}). Try again?` });
      return;
    }
    let answered: unknown;
    try {
      answered = reply.text.trim() === '' ? {} : JSON.parse(reply.text);
    } catch {
      answered = undefined;
    }
    const parsed = submissionAnswer.safeParse(answered);
    if (!parsed.success) {
      workspace.setViewErrors(view.id, { '': 'Lifeline answered the submission with something Slack would not understand. Its log says more.' });
      return;
    }
    const response = parsed.data;
    const next = response.view;
    switch (response.response_action) {
      case 'errors':
        workspace.setViewErrors(view.id, response.errors ?? {});
        return;
      case 'update':
        if (next) workspace.showModal(person.id, next, 'replace', view.id);
        return;
      case 'push':
        if (next) workspace.showModal(person.id, next, 'push');
        return;
      case 'clear':
        workspace.closeView(person.id, view.id, true);
        return;
      default:
        // An empty ack closes the view submitted; one pushed on another goes back to the one below.
        workspace.closeView(person.id, view.id, false);
    }
  }

  async function act(request: ActRequest): Promise<void> {
    switch (request.type) {
      case 'command':
        return command(request);
      case 'action':
        return action(request);
      case 'submit':
        return submit(request);
      case 'close':
        workspace.closeView(personOf(request.user).id, request.viewId, false);
        return;
      case 'home': {
        const person = personOf(request.user);
        const reply = await sendToLifeline('event', appHomeOpenedEnvelope(person, workspace.home(person.id)?.id));
        if (reply.status !== 200) failed(`D${person.id}`, person.id, 'Opening Home', reply.status);
      }
    }
  }

  function state(): Json {
    const people = workspace.people();
    const conversations = workspace.conversations();
    if (!options.interactive) {
      // Reachable from other machines: what was posted, as the console shows it, but nobody's private answers,
      // forms or Home tab.
      return {
        version: workspace.version,
        interactive: false,
        people,
        conversations: conversations.map((conversation) => ({ ...conversation, messages: conversation.messages.filter((message) => message.ephemeralTo === undefined) })),
        modals: {},
        homes: {},
      };
    }
    return {
      version: workspace.version,
      interactive: true,
      people,
      conversations,
      modals: Object.fromEntries(people.map((person) => [person.id, workspace.modalStack(person.id)])),
      homes: Object.fromEntries(people.flatMap((person) => (workspace.home(person.id) ? [[person.id, workspace.home(person.id)]] : []))),
    };
  }

  return {
    calls: workspace.calls,
    workspace,
    async handle(req, res, path) {
      const sub = path.slice(LOCAL_SLACK_PATH.length);
      // SECURITY: the page, its state and its actions answer only to a loopback name while the page can act, so a
      // web page elsewhere cannot read or drive them through a DNS name rebound to 127.0.0.1.
      const forPage = sub === '' || sub === '/' || sub === '/state' || sub === '/act';
      if (forPage && options.interactive && !LOOPBACK_HOST.test(req.headers.host ?? '')) {
        return answer(res, 403, { error: 'Open the simulator at http://127.0.0.1 (or localhost) on Lifeline\'s port.' });
      }
      if (req.method === 'GET' && (sub === '' || sub === '/' || sub === '/preview')) {
        if (sub === '/preview') {
          res.writeHead(302, { location: LOCAL_SLACK_PATH });
          res.end();
          return;
        }
        const page = files.get('index.html');
        res.writeHead(200, { 'content-type': page?.contentType ?? 'text/html', 'content-security-policy': SIMULATOR_CSP, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' });
        res.end(page?.body);
        return;
      }
      if (req.method === 'GET' && sub.startsWith('/assets/')) {
        const file = files.get(sub.slice('/assets/'.length));
        if (!file) return answer(res, 404, { error: `Nothing at ${path}.` });
        res.writeHead(200, { 'content-type': file.contentType, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' });
        res.end(file.body);
        return;
      }
      if (req.method === 'GET' && sub === '/state') {
        const after = Number(new URL(req.url ?? '/', 'http://local.invalid').searchParams.get('after') ?? '-1');
        await refreshPeople();
        // Long polling: the page asks again as soon as it has an answer, which comes when something changes.
        if (Number.isFinite(after)) await workspace.waitForChange(after, 25_000);
        return answer(res, 200, state());
      }
      if (req.method === 'POST' && sub === '/act') {
        // SECURITY: only from the page itself, on loopback. A JSON body needs a CORS preflight, which this server
        // never grants, so another site's page cannot post here; the Host check stops a rebound DNS name.
        const host = req.headers.host ?? '';
        const origin = req.headers.origin;
        if (!options.interactive) {
          return answer(res, 403, { error: 'The simulator acts only while Lifeline listens on 127.0.0.1 (set HOST=127.0.0.1) and is opened there.' });
        }
        if (!(req.headers['content-type'] ?? '').startsWith('application/json') || (origin !== undefined && origin !== `http://${host}`)) {
          return answer(res, 403, { error: 'Only the simulator page may act.' });
        }
        const parsed = actRequest.safeParse(await readBody(req));
        if (!parsed.success) return answer(res, 400, { error: `Not a simulator request: ${parsed.error.issues.map((issue) => issue.message).join('; ')}` });
        await refreshPeople();
        try {
          await act(parsed.data);
        } catch (error) {
          if (error instanceof SimulatorRefusal || error instanceof SimulatorInputError) return answer(res, 409, { error: error.message });
          throw error;
        }
        return answer(res, 200, { ok: true });
      }
      if (req.method === 'POST' && sub.startsWith('/response/')) {
        let payload: Record<string, unknown>;
        try {
          payload = await readBody(req);
        } catch {
          return answer(res, 400, { error: 'invalid_payload' });
        }
        const result = workspace.respond(sub.slice('/response/'.length), payload);
        res.writeHead(result.status, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(result.error ?? 'ok');
        return;
      }
      const method = sub.startsWith('/api/') ? sub.slice('/api/'.length) : '';
      if (req.method !== 'POST' || method === '') return answer(res, 404, { ok: false, error: 'unknown_method' });
      const body = await readBody(req);
      if (method === 'users.info' || method === 'users.lookupByEmail') await refreshPeople();
      return answer(res, 200, workspace.call(method, body));
    },
  };
}

export type { Choice, RawValues };
