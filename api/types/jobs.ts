import type { JobRun } from '../../db/schema.ts';
import { jobRunStatuses, jobRunTriggers } from '../../db/schema.ts';
import { jobNames } from '../../jobs/registry.ts';
import { runJobByHand } from '../../jobs/run.ts';
import { builder } from '../builder.ts';

const JobRunStatusEnum = builder.enumType('JobRunStatus', {
  description: '`abandoned`: its process stopped while running; a later fire redid its work.',
  values: jobRunStatuses,
});

const JobRunTriggerEnum = builder.enumType('JobRunTrigger', { values: jobRunTriggers });

const JobCountRef = builder.objectRef<{ name: string; value: number }>('JobCount').implement({
  description: 'One count a job reported, e.g. accounts scored or alerts fired.',
  fields: (t) => ({ name: t.exposeString('name'), value: t.exposeInt('value') }),
});

export const JobRunRef = builder.objectRef<JobRun>('JobRun').implement({
  description: 'One run of a scheduled job, by schedule or by hand.',
  fields: (t) => ({
    id: t.id({ resolve: (run) => String(run.id) }),
    job: t.exposeString('job', { description: `One of: ${jobNames.join(', ')}.` }),
    status: t.expose('status', { type: JobRunStatusEnum }),
    trigger: t.expose('trigger', { type: JobRunTriggerEnum }),
    scheduledFor: t.expose('scheduledFor', { type: 'DateTime' }),
    instanceId: t.exposeString('instanceId', { description: 'Which process ran it.' }),
    startedAt: t.expose('startedAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    counts: t.field({
      type: [JobCountRef],
      resolve: (run) => Object.entries(run.counts ?? {}).map(([name, value]) => ({ name, value })),
    }),
    error: t.exposeString('error', { nullable: true, description: 'Why it failed, when it did.' }),
  }),
});

builder.mutationField('runJob', (t) =>
  t.field({
    type: JobRunRef,
    description: `Admins only: runs a job now (${jobNames.join(', ')}) and returns its outcome and counts. A failed job returns status failed with its error.`,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => {
      const { jobs, logger } = ctx.jobs;
      return runJobByHand(ctx.db, { name: args.name, jobs, logger, actor: ctx.actor, instanceId: `api:${process.pid}` });
    },
  }),
);
