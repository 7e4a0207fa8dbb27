// The whole database schema, one file per area under db/schema/. Import tables and types from here.
export * from './schema/core.ts';
export * from './schema/signals.ts';
export * from './schema/delivery.ts';
export * from './schema/health.ts';
export * from './schema/jobs.ts';
export * from './schema/plays.ts';
export * from './schema/people.ts';
export * from './schema/webhooks.ts';
export * from './schema/churn-reasons.ts';
export * from './schema/renewals.ts';
export * from './schema/slack-links.ts';
export * from './schema/leads.ts';
