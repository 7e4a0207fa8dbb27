import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../config.ts';

describe('configuration', () => {
  it('runs with no environment at all: embedded database, local Slack mode, port 3000', () => {
    const config = parseConfig({});
    expect(config.port).toBe(3000);
    expect(config.database).toEqual({ kind: 'pglite', dir: '.data/pglite' });
    expect(config.slack.mode).toBe('local');
    expect(config.adminToken).toBeUndefined();
    expect(config.slackChannels).toEqual({ handoffs: undefined, atRisk: undefined });
  });

  it('takes the handoff and at-risk channels as channel ids and refuses a #name', () => {
    const config = parseConfig({ SLACK_HANDOFF_CHANNEL: 'C0HANDOFF1', SLACK_AT_RISK_CHANNEL: 'C0ATRISK01' });
    expect(config.slackChannels).toEqual({ handoffs: 'C0HANDOFF1', atRisk: 'C0ATRISK01' });
    expect(() => parseConfig({ SLACK_AT_RISK_CHANNEL: '#at-risk' })).toThrowError(/SLACK_AT_RISK_CHANNEL must be a Slack channel id/);
  });

  it('schedules jobs in UTC with the default renewal window unless told otherwise', () => {
    expect(parseConfig({}).jobs).toEqual({ enabled: true, timezone: 'UTC', schedules: {}, renewalWindowDays: 90, catchUpGraceMs: 60_000 });
    const config = parseConfig({
      LIFELINE_TIMEZONE: 'Europe/Paris',
      LIFELINE_SCHEDULE_HEALTH: '*/15 * * * *',
      LIFELINE_SCHEDULE_DIGEST: '30 8 * * 1-5',
      LIFELINE_RENEWAL_WINDOW_DAYS: '120',
      LIFELINE_CATCH_UP_GRACE_SECONDS: '300',
      LIFELINE_JOBS: 'off',
    });
    expect(config.jobs).toEqual({
      enabled: false,
      timezone: 'Europe/Paris',
      schedules: { health: '*/15 * * * *', digest: '30 8 * * 1-5' },
      renewalWindowDays: 120,
      catchUpGraceMs: 300_000,
    });
  });

  it('refuses an unknown time zone, a broken cron schedule, a renewal window and a catch-up grace out of range, naming each', () => {
    let caught: unknown;
    try {
      parseConfig({
        LIFELINE_TIMEZONE: 'Mars/Olympus',
        LIFELINE_SCHEDULE_RULES: 'every day',
        LIFELINE_RENEWAL_WINDOW_DAYS: '0',
        LIFELINE_CATCH_UP_GRACE_SECONDS: '86400',
      });
    } catch (error) {
      caught = error;
    }
    const problems = caught instanceof ConfigError ? caught.problems.join('\n') : '';
    expect(problems).toMatch(/LIFELINE_TIMEZONE must be an IANA time zone/);
    expect(problems).toMatch(/LIFELINE_SCHEDULE_RULES must be a cron expression/);
    expect(problems).toMatch(/LIFELINE_RENEWAL_WINDOW_DAYS must be a whole number of days from 1 to 365/);
    expect(problems).toMatch(/LIFELINE_CATCH_UP_GRACE_SECONDS must be a whole number of seconds from 0 to 43199/);
  });

  it('switches to PostgreSQL when DATABASE_URL is set and to Slack when both Slack secrets are', () => {
    const config = parseConfig({
      DATABASE_URL: 'postgres://lifeline@db.internal:5432/lifeline',
      SLACK_BOT_TOKEN: 'xoxb-1-2-3',
      SLACK_SIGNING_SECRET: 'shh',
      SLACK_API_URL: 'http://127.0.0.1:9999/api/',
    });
    expect(config.database).toEqual({ kind: 'postgres', url: 'postgres://lifeline@db.internal:5432/lifeline' });
    expect(config.slack).toEqual({ mode: 'slack', botToken: 'xoxb-1-2-3', signingSecret: 'shh', apiUrl: 'http://127.0.0.1:9999/api/' });
  });

  it('connects over Socket Mode with an app token, which needs no signing secret, and refuses a token that is not one', () => {
    const config = parseConfig({ SLACK_BOT_TOKEN: 'xoxb-1-2-3', SLACK_APP_TOKEN: 'xapp-1-A1-2', SLACK_API_URL: 'http://127.0.0.1:9999/api/' });
    expect(config.slack).toEqual({ mode: 'socket', botToken: 'xoxb-1-2-3', appToken: 'xapp-1-A1-2', apiUrl: 'http://127.0.0.1:9999/api/' });
    expect(() => parseConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xoxb-2' })).toThrowError(/SLACK_APP_TOKEN must be an app-level token starting with "xapp-"/);
    expect(() => parseConfig({ SLACK_APP_TOKEN: 'xapp-1' })).toThrowError(/SLACK_BOT_TOKEN is required when SLACK_APP_TOKEN is set/);
  });

  it('treats empty variables as unset', () => {
    expect(parseConfig({ DATABASE_URL: '', SLACK_BOT_TOKEN: ' ', SLACK_SIGNING_SECRET: '' }).slack.mode).toBe('local');
  });

  it('a bot token without a signing secret is refused with a message that says what to set', () => {
    expect(() => parseConfig({ SLACK_BOT_TOKEN: 'xoxb-1' })).toThrowError(/SLACK_SIGNING_SECRET is required when SLACK_BOT_TOKEN is set/);
    expect(() => parseConfig({ SLACK_SIGNING_SECRET: 'shh' })).toThrowError(/SLACK_BOT_TOKEN is required when SLACK_SIGNING_SECRET is set/);
  });

  it('reports every problem at once, each naming its variable', () => {
    let caught: unknown;
    try {
      parseConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', SLACK_BOT_TOKEN: 'xoxp-user', LIFELINE_ADMIN_TOKEN: 'short' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = caught instanceof ConfigError ? caught.problems : [];
    expect(problems.join('\n')).toMatch(/PORT must be a whole number/);
    expect(problems.join('\n')).toMatch(/DATABASE_URL must be a postgres:\/\//);
    expect(problems.join('\n')).toMatch(/LOG_LEVEL must be one of/);
    expect(problems.join('\n')).toMatch(/SLACK_BOT_TOKEN must be a bot token starting with "xoxb-"/);
    expect(problems.join('\n')).toMatch(/LIFELINE_ADMIN_TOKEN must be at least 24 characters/);
    expect(problems.length).toBeGreaterThanOrEqual(5);
  });

  it('enables the CRM webhook only with a long enough CRM_WEBHOOK_SECRET', () => {
    expect(parseConfig({}).crmWebhookSecret).toBeUndefined();
    expect(parseConfig({ CRM_WEBHOOK_SECRET: 'a-shared-secret-of-32-characters' }).crmWebhookSecret).toBe('a-shared-secret-of-32-characters');
    expect(() => parseConfig({ CRM_WEBHOOK_SECRET: 'short' })).toThrowError(/CRM_WEBHOOK_SECRET must be at least 24 characters/);
  });

  it('lets no other origin call the API from a browser unless LIFELINE_CORS_ORIGINS lists it, and refuses what is not an origin', () => {
    expect(parseConfig({}).corsOrigins).toEqual([]);
    expect(parseConfig({ LIFELINE_CORS_ORIGINS: ' https://dash.example.com, http://localhost:5173 ' }).corsOrigins).toEqual([
      'https://dash.example.com',
      'http://localhost:5173',
    ]);
    let caught: unknown;
    try {
      parseConfig({ LIFELINE_CORS_ORIGINS: 'https://dash.example.com/, *, dash.example.com, https://ok.example.com' });
    } catch (error) {
      caught = error;
    }
    const problems = caught instanceof ConfigError ? caught.problems : [];
    expect(problems).toHaveLength(3);
    for (const wrong of ['https://dash.example.com/', '*', 'dash.example.com']) {
      expect(problems.join('\n')).toContain(`LIFELINE_CORS_ORIGINS must list origins such as https://dash.example.com, separated by commas (scheme, host and optional port; no path, no trailing slash): "${wrong}" is not one`);
    }
  });

  it('bounds the requests worked on at once by the database pool, keeps a bounded line, and refuses limits out of range, naming each', () => {
    // PostgreSQL: the pool of 10 connections less two kept for Slack, jobs, delivery and /readyz; PGlite: two.
    expect(parseConfig({ DATABASE_URL: 'postgres://lifeline@db.internal:5432/lifeline' }).lanes).toEqual({
      api: { maxInFlight: 8, maxQueued: 64 },
      slack: { maxInFlight: 4, maxQueued: 500 },
    });
    expect(parseConfig({}).lanes.api).toEqual({ maxInFlight: 2, maxQueued: 64 });
    expect(
      parseConfig({ LIFELINE_API_MAX_IN_FLIGHT: '3', LIFELINE_API_MAX_QUEUED: '0', LIFELINE_SLACK_MAX_IN_FLIGHT: '2', LIFELINE_SLACK_MAX_QUEUED: '10' }).lanes,
    ).toEqual({ api: { maxInFlight: 3, maxQueued: 0 }, slack: { maxInFlight: 2, maxQueued: 10 } });
    let caught: unknown;
    try {
      parseConfig({ LIFELINE_API_MAX_IN_FLIGHT: '0', LIFELINE_API_MAX_QUEUED: 'many', LIFELINE_SLACK_MAX_IN_FLIGHT: '1.5', LIFELINE_SLACK_MAX_QUEUED: '-1' });
    } catch (error) {
      caught = error;
    }
    const problems = caught instanceof ConfigError ? caught.problems : [];
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/LIFELINE_API_MAX_IN_FLIGHT must be a whole number from 1 to 10000/);
    expect(problems.join('\n')).toMatch(/LIFELINE_API_MAX_QUEUED must be a whole number from 0 to 10000/);
    expect(problems.join('\n')).toMatch(/LIFELINE_SLACK_MAX_IN_FLIGHT must be a whole number from 1 to 10000/);
    expect(problems.join('\n')).toMatch(/LIFELINE_SLACK_MAX_QUEUED must be a whole number from 0 to 10000/);
  });
});
