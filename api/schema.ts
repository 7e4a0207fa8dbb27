import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './types/enums.ts';
import './types/user.ts';
import './types/stage.ts';
import './types/transition.ts';
import './types/account.ts';
import './types/viewer.ts';
import './types/health.ts';
import './types/jobs.ts';
import './types/handoff.ts';
import './types/renewal.ts';
import './types/ingestion.ts';
import './types/admin.ts';
import './types/metrics.ts';
import './types/outbox.ts';
import './types/task.ts';
import './types/people.ts';
import './types/playbook.ts';
import './types/play-metrics.ts';
import './types/webhooks.ts';
import './types/churn-reason.ts';
import './types/renewal-outcomes.ts';
import './types/calibration.ts';
import './types/lead.ts';

export const schema = builder.toSchema();

/** The SDL checked in as api/schema.graphql; sorted so the file changes only when the schema does. */
export function printLifelineSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
