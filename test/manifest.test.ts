import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { SLACK_EVENTS_PATH } from '../bot/app.ts';

// The parts of Slack's manifest schema Lifeline depends on, with Slack's own length limits.
const manifestSchema = z.object({
  display_information: z.object({ name: z.string().min(1).max(35), description: z.string().min(1).max(140) }),
  features: z.object({
    app_home: z.object({ home_tab_enabled: z.literal(true) }),
    bot_user: z.object({ display_name: z.string().min(1).max(80) }),
    slash_commands: z.array(z.object({ command: z.string(), url: z.url(), description: z.string().max(2000), usage_hint: z.string().optional() })),
  }),
  oauth_config: z.object({ scopes: z.object({ bot: z.array(z.string()) }) }),
  settings: z.object({
    event_subscriptions: z.object({ request_url: z.url(), bot_events: z.array(z.string()) }),
    interactivity: z.object({ is_enabled: z.literal(true), request_url: z.url() }),
    socket_mode_enabled: z.literal(false),
  }),
});

async function readManifest() {
  return manifestSchema.parse(parse(await readFile(new URL('../manifest.yml', import.meta.url), 'utf8')));
}

// Over Socket Mode Slack sends everything over the socket: no request URL anywhere, socket_mode_enabled true.
const socketManifestSchema = manifestSchema.extend({
  features: manifestSchema.shape.features.extend({
    slash_commands: z.array(z.strictObject({ command: z.string(), description: z.string().max(2000), usage_hint: z.string().optional(), should_escape: z.boolean().optional() })),
  }),
  settings: z.object({
    event_subscriptions: z.strictObject({ bot_events: z.array(z.string()) }),
    interactivity: z.strictObject({ is_enabled: z.literal(true) }),
    socket_mode_enabled: z.literal(true),
  }),
});

async function readSocketManifest() {
  return socketManifestSchema.parse(parse(await readFile(new URL('../manifest.socket-mode.yml', import.meta.url), 'utf8')));
}

/**
 * The bot-token scopes each Web API method needs, from Slack's method reference. A method the code starts to
 * call must be added here, which makes whoever adds it decide its scope and update manifest.yml.
 */
const METHOD_SCOPES: Record<string, string[]> = {
  'auth.test': [],
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.delete': ['chat:write'],
  'views.open': [],
  'views.push': [],
  'views.update': [],
  'views.publish': [],
  'conversations.open': ['im:write'],
  // Delivery posts to public and private channels and DMs, so it may need to read any of the three.
  'conversations.history': ['channels:history', 'groups:history', 'im:history'],
  'conversations.replies': ['channels:history', 'groups:history', 'im:history'],
  'users.info': ['users:read'],
  'users.lookupByEmail': ['users:read.email'],
};

/**
 * Requested before anything calls them: linking people by email will call users.lookupByEmail and users.info,
 * and a scope added later makes every workspace approve the app again.
 */
const REQUESTED_AHEAD = ['users:read', 'users:read.email'];

const SOURCE_DIRS = ['bot', 'domain', 'jobs', 'api', 'db'];
const SOURCE_FILES = ['server.ts', 'main.ts', 'config.ts'];

async function sourceFiles(): Promise<string[]> {
  const root = new URL('..', import.meta.url).pathname;
  const files: string[] = [];
  for (const dir of SOURCE_DIRS) {
    const entries = await readdir(join(root, dir), { recursive: true, withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isFile() && entry.name.endsWith('.ts')) files.push(join(entry.parentPath, entry.name));
  }
  for (const file of SOURCE_FILES) files.push(join(root, file));
  return files;
}

/** Every `<something>client.<family>.<method>(` call in Lifeline's own code. */
async function calledMethods(): Promise<Set<string>> {
  const methods = new Set<string>();
  for (const file of await sourceFiles()) {
    const source = await readFile(file, 'utf8').catch(() => '');
    for (const match of source.matchAll(/\b\w*[cC]lient\.([a-z]+)\.([A-Za-z]+)\(/g)) methods.add(`${match[1]}.${match[2]}`);
  }
  return methods;
}

describe('manifest.yml', () => {
  it('describes the app Lifeline serves: /lifeline, interactivity and events at /slack/events', async () => {
    const manifest = await readManifest();
    const command = manifest.features.slash_commands.find((candidate) => candidate.command === '/lifeline');
    expect(new URL(command?.url ?? 'http://missing').pathname).toBe(SLACK_EVENTS_PATH);
    expect(new URL(manifest.settings.interactivity.request_url).pathname).toBe(SLACK_EVENTS_PATH);
    expect(new URL(manifest.settings.event_subscriptions.request_url).pathname).toBe(SLACK_EVENTS_PATH);
    expect(manifest.settings.event_subscriptions.bot_events).toContain('app_home_opened');
  });

  it('asks a workspace for exactly the scopes the code needs, plus users:read and users:read.email for linking people', async () => {
    const manifest = await readManifest();
    const methods = await calledMethods();
    // The inventory found the calls Lifeline is known to make, so an empty or broken scan cannot pass.
    expect([...methods]).toEqual(expect.arrayContaining(['chat.postMessage', 'chat.update', 'views.open', 'views.publish', 'conversations.history']));
    const unknown = [...methods].filter((method) => !(method in METHOD_SCOPES));
    expect(unknown, 'methods called without a known scope: add them to METHOD_SCOPES').toEqual([]);

    const needed = new Set<string>(REQUESTED_AHEAD);
    for (const method of methods) for (const scope of METHOD_SCOPES[method] ?? []) needed.add(scope);
    // A slash command needs `commands`.
    if (manifest.features.slash_commands.length > 0) needed.add('commands');
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
  });
});

describe('manifest.socket-mode.yml', () => {
  it('describes the same app over Socket Mode: the same command, events and scopes, and no request URL', async () => {
    const [http, socket] = await Promise.all([readManifest(), readSocketManifest()]);
    expect(socket.display_information).toEqual(http.display_information);
    expect(socket.features.slash_commands.map(({ command, usage_hint }) => ({ command, usage_hint }))).toEqual(
      http.features.slash_commands.map(({ command, usage_hint }) => ({ command, usage_hint })),
    );
    expect(socket.settings.event_subscriptions.bot_events).toEqual(http.settings.event_subscriptions.bot_events);
    expect([...socket.oauth_config.scopes.bot].sort()).toEqual([...http.oauth_config.scopes.bot].sort());
    const text = await readFile(new URL('../manifest.socket-mode.yml', import.meta.url), 'utf8');
    expect(text).not.toMatch(/request_url|url:/);
  });
});
