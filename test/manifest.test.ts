import { readFile } from 'node:fs/promises';
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

describe('manifest.yml', () => {
  it('describes the app Lifeline serves: /lifeline, interactivity and events at /slack/events, and the scopes it uses', async () => {
    const manifest = manifestSchema.parse(parse(await readFile(new URL('../manifest.yml', import.meta.url), 'utf8')));
    const command = manifest.features.slash_commands.find((candidate) => candidate.command === '/lifeline');
    expect(new URL(command?.url ?? 'http://missing').pathname).toBe(SLACK_EVENTS_PATH);
    expect(new URL(manifest.settings.interactivity.request_url).pathname).toBe(SLACK_EVENTS_PATH);
    expect(new URL(manifest.settings.event_subscriptions.request_url).pathname).toBe(SLACK_EVENTS_PATH);
    expect(manifest.settings.event_subscriptions.bot_events).toContain('app_home_opened');
    expect(manifest.oauth_config.scopes.bot).toEqual(expect.arrayContaining(['chat:write', 'commands', 'im:write', 'users:read', 'users:read.email']));
  });
});
