import {
  type CalibrationCounts,
  type ComponentCalibration,
  DEFAULT_CALIBRATION_HORIZON_DAYS,
  DEFAULT_CALIBRATION_PERIOD_DAYS,
  type HealthCalibration,
  LOW_COMPONENT_SCORE,
  MAX_CALIBRATION_HORIZON_DAYS,
  MAX_CALIBRATION_PERIOD_DAYS,
  MIN_CALIBRATION_HORIZON_DAYS,
  MIN_CONCLUSIVE_CHURNS,
  type StatusCalibration,
  calibrationSamples,
  healthCalibration,
} from '../../domain/health/calibration.ts';
import { builder } from '../builder.ts';
import { HealthStatusEnum } from './enums.ts';
import { HealthComponentNameEnum } from './health.ts';

const CalibrationSampleEnum = builder.enumType('CalibrationSample', {
  description: 'Which days of the period are sampled: every day, or every 7th day starting on `from`.',
  values: calibrationSamples,
});

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** The counts and rates every group of account-days carries, with their formulas. */
function countFields<Shape extends CalibrationCounts>(t: PothosSchemaTypes.ObjectFieldBuilder<Types, Shape>) {
  return {
    accountDays: t.int({ resolve: (row) => row.accountDays, description: 'Sampled account-days in this group: an account on a sampled day, counted once per day.' }),
    accounts: t.int({ resolve: (row) => row.accounts, description: 'Distinct accounts among those account-days.' }),
    churnedDays: t.int({ resolve: (row) => row.churnedDays, description: 'Of those account-days, the ones followed by a churn within the horizon.' }),
    contractedDays: t.int({ resolve: (row) => row.contractedDays, description: 'Of those account-days, the ones followed by a contraction within the horizon.' }),
    churnRate: t.float({ nullable: true, resolve: (row) => row.churnRate, description: 'churnedDays ÷ accountDays (0.2 is 20%); null without account-days.' }),
    contractionRate: t.float({ nullable: true, resolve: (row) => row.contractionRate, description: 'contractedDays ÷ accountDays; null without account-days.' }),
    lift: t.float({
      nullable: true,
      resolve: (row) => row.lift,
      description:
        'churnRate ÷ the base churn rate (overall.churnRate): 2 means churn followed twice as often as across all account-days, 1 no better than chance, below 1 less often. Null when the base rate is 0 or there are no account-days.',
    }),
  };
}

const CalibrationCountsRef = builder.objectRef<CalibrationCounts>('CalibrationCounts').implement({
  description: 'Every sampled account-day: the base rates the groups are compared with (its lift is 1, or null when nothing churned).',
  fields: (t) => countFields(t),
});

const StatusCalibrationRef = builder.objectRef<StatusCalibration>('StatusCalibration').implement({
  description: 'The account-days on which accounts had this health status, and what followed them.',
  fields: (t) => ({ status: t.expose('status', { type: HealthStatusEnum }), ...countFields(t) }),
});

const ComponentCalibrationRef = builder.objectRef<ComponentCalibration>('ComponentCalibration').implement({
  description: `The account-days on which this component of the score was low (its score below ${LOW_COMPONENT_SCORE} of 100; a component without data is never low), and what followed them.`,
  fields: (t) => ({ component: t.expose('component', { type: HealthComponentNameEnum }), ...countFields(t) }),
});

const HealthCalibrationRef = builder.objectRef<HealthCalibration>('HealthCalibration').implement({
  description: [
    'Does the health score predict churn? Each sampled day of the period is crossed with the accounts active that day: an account with a health score by the end of that UTC day (its latest score by then gives the status and components) that had not churned by then (its latest stage move was not to Churned, and its latest new, reactivation or churn ledger entry was not a churn).',
    'An account-day is followed by a churn when the account has a churn ledger entry effective, or a move to Churned made, on a day in (day, day + horizonDays]; by a contraction likewise with contraction ledger entries.',
    'Days whose horizon is not over yet count only what has happened so far.',
  ].join(' '),
  fields: (t) => ({
    from: t.expose('from', { type: 'Date' }),
    to: t.expose('to', { type: 'Date' }),
    horizonDays: t.exposeInt('horizonDays'),
    sample: t.expose('sample', { type: CalibrationSampleEnum }),
    sampledDays: t.exposeInt('sampledDays', { description: 'How many days of the period were sampled.' }),
    lowComponentScore: t.exposeInt('lowComponentScore', { description: 'A component is low below this score (of 100).' }),
    overall: t.field({ type: CalibrationCountsRef, resolve: (row) => row.overall, description: 'All sampled account-days: overall.churnRate is the base churn rate.' }),
    churnEvents: t.exposeInt('churnEvents', {
      description: 'Distinct churns (an account on a day, from the ledger or a move to Churned) that followed at least one sampled account-day within the horizon.',
    }),
    statuses: t.field({ type: [StatusCalibrationRef], resolve: (row) => row.statuses, description: 'One row per health status, healthy, at_risk, critical, insufficient_data.' }),
    components: t.field({ type: [ComponentCalibrationRef], resolve: (row) => row.components, description: 'One row per component: the account-days when it was low.' }),
    conclusive: t.exposeBoolean('conclusive', { description: `False when fewer than ${MIN_CONCLUSIVE_CHURNS} churn events are in the sample: the rates are too noisy to read.` }),
    note: t.exposeString('note', { nullable: true, description: 'Why the calibration is not conclusive ("too few churns to conclude: N"); null when it is.' }),
  }),
});

builder.queryField('healthCalibration', (t) =>
  t.field({
    type: HealthCalibrationRef,
    description: `Whether the health score predicted churn over a period: per health status and per low component, the share of sampled account-days followed by a churn or a contraction within \`horizonDays\` (${DEFAULT_CALIBRATION_HORIZON_DAYS} by default, ${MIN_CALIBRATION_HORIZON_DAYS}..${MAX_CALIBRATION_HORIZON_DAYS}), and the lift against the base rate. The period spans at most ${MAX_CALIBRATION_PERIOD_DAYS} days; weekly samples by default. Computed in one statement. Managers and admins.`,
    args: {
      from: t.arg({ type: 'Date', required: false, description: `First sampled day; ${DEFAULT_CALIBRATION_PERIOD_DAYS} days before \`to\` by default.` }),
      to: t.arg({ type: 'Date', required: false, description: 'Last day that may be sampled (inclusive); today (UTC) by default.' }),
      horizonDays: t.arg.int({ required: false, defaultValue: DEFAULT_CALIBRATION_HORIZON_DAYS }),
      sample: t.arg({ type: CalibrationSampleEnum, required: false, defaultValue: 'weekly' }),
    },
    complexity: 50,
    resolve: (_root, args, ctx) =>
      healthCalibration(ctx.db, { reader: ctx.actor, from: args.from ?? null, to: args.to ?? null, horizonDays: args.horizonDays ?? null, sample: args.sample ?? null }),
  }),
);
