import type { CsmSentiment, HealthComponentName, HealthSummary } from '../../db/schema.ts';
import type { ListedHealth } from '../../domain/accounts/listing.ts';
import { healthComponentNames, sentiments } from '../../db/schema.ts';
import { type AtRiskItem, type HealthPoint, getAccountHealth, listAtRisk, scoreDrop } from '../../domain/health/queries.ts';
import { type HealthModelSettings, getHealthSettings, updateHealthSettings } from '../../domain/health/model.ts';
import { withRelationshipReasons } from '../../domain/people/relationship.ts';
import { builder } from '../builder.ts';
import type { ApiContext } from '../context.ts';
import { type MaybePromise, columnOf, required } from '../partial-rows.ts';
import { AccountRef } from './account.ts';
import { HealthStatusEnum } from './enums.ts';
import { UserRef } from './user.ts';

export const HealthComponentNameEnum = builder.enumType('HealthComponentName', {
  description: 'The parts of the health score: product usage, support tickets, NPS/CSAT answers, CSM engagement.',
  values: healthComponentNames,
});

export const SentimentEnum = builder.enumType('Sentiment', { values: sentiments });

interface ComponentView {
  name: HealthComponentName;
  score: number | null;
  weight: number;
  detail: string;
}

const HealthComponentRef = builder.objectRef<ComponentView>('HealthComponent').implement({
  description: 'One component of a score. A component with no data has no score and weight 0: the others shared its weight.',
  fields: (t) => ({
    name: t.expose('name', { type: HealthComponentNameEnum }),
    score: t.exposeInt('score', { nullable: true, description: '0-100; null when there was no data.' }),
    weight: t.exposeFloat('weight', { description: 'Its share of the score in percent, after re-weighting.' }),
    detail: t.exposeString('detail', { description: 'The facts behind it, in words.' }),
  }),
});

const HealthPointRef = builder.objectRef<HealthPoint>('HealthPoint').implement({
  description: 'A score as it moved: history keeps one point each time the score, the status or the reasons said change (not when only the days counted in them go on).',
  fields: (t) => ({
    score: t.exposeInt('score', { nullable: true, description: '0-100; null when the status is `insufficient_data`.' }),
    status: t.expose('status', { type: HealthStatusEnum }),
    computedAt: t.expose('computedAt', { type: 'DateTime' }),
    reasons: t.exposeStringList('reasons'),
  }),
});

export const CsmSentimentRef = builder.objectRef<CsmSentiment>('CsmSentiment').implement({
  description: "The CSM's own read of the account: shown beside the score, never part of it.",
  fields: (t) => ({
    sentiment: t.expose('sentiment', { type: SentimentEnum }),
    note: t.exposeString('note', { nullable: true }),
    recordedAt: t.expose('recordedAt', { type: 'DateTime' }),
  }),
});

/** A column of a health a listing may have read in part (an account's latest), else of the whole health summary. */
function healthColumn<Column extends keyof HealthSummary>(ctx: ApiContext, health: ListedHealth, column: Column): MaybePromise<HealthSummary[Column]> {
  return columnOf(health, column, () => required(ctx.loaders.health.load(health.accountId), `Health of account ${health.accountId}`));
}

async function relationshipReasonsOf(ctx: ApiContext, health: ListedHealth): Promise<string[]> {
  return withRelationshipReasons(await healthColumn(ctx, health, 'reasons'), await ctx.loaders.relationshipReasons.load(health.accountId));
}

export const AccountHealthRef = builder.objectRef<ListedHealth>('AccountHealth').implement({
  description:
    "An account's latest computed health and why it is what it is. Status `insufficient_data` with a null score: the account was recomputed and has no customer signal to score.",
  fields: (t) => ({
    score: t.int({
      nullable: true,
      description: '0-100; null when the status is `insufficient_data` (not enough data for a score).',
      resolve: (health, _args, ctx) => healthColumn(ctx, health, 'score'),
    }),
    status: t.field({ type: HealthStatusEnum, resolve: (health, _args, ctx) => healthColumn(ctx, health, 'status') }),
    scoreDayAgo: t.int({ nullable: true, resolve: (health, _args, ctx) => healthColumn(ctx, health, 'scoreDayAgo') }),
    scoreWeekAgo: t.int({ nullable: true, resolve: (health, _args, ctx) => healthColumn(ctx, health, 'scoreWeekAgo') }),
    dropSinceYesterday: t.int({
      nullable: true,
      description: 'scoreDayAgo − score: positive when health fell since yesterday; null without a day-old score or a score now.',
      resolve: async (health, _args, ctx) => scoreDrop(await healthColumn(ctx, health, 'scoreDayAgo'), await healthColumn(ctx, health, 'score')),
    }),
    dropOverWeek: t.int({
      nullable: true,
      description: 'scoreWeekAgo − score: positive when health fell over the last week; null without a week-old score or a score now.',
      resolve: async (health, _args, ctx) => scoreDrop(await healthColumn(ctx, health, 'scoreWeekAgo'), await healthColumn(ctx, health, 'score')),
    }),
    reasons: t.stringList({
      description:
        'What moved the score, in words (or why there is none), then what the account’s people say beside it (e.g. “champion left 12 days ago”), which is not part of the score.',
      resolve: (health, _args, ctx) => {
        // A listed health carries its reasons and the relationship reasons read beside it: answered at once.
        const reasons = health.reasons;
        const relationship = ctx.loaders.listedRelationshipReasons.get(health);
        if (reasons !== undefined && relationship !== undefined) return withRelationshipReasons(reasons, relationship);
        return relationshipReasonsOf(ctx, health);
      },
    }),
    computedAt: t.field({
      type: 'DateTime',
      description: 'When the score last moved: the newest point of its history.',
      resolve: (health, _args, ctx) => healthColumn(ctx, health, 'computedAt'),
    }),
    modelVersion: t.int({ description: 'The version of the health model that computed it.', resolve: (health, _args, ctx) => healthColumn(ctx, health, 'modelVersion') }),
    components: t.field({
      type: [HealthComponentRef],
      resolve: async (health, _args, ctx) => {
        const components = await healthColumn(ctx, health, 'components');
        return healthComponentNames.map((name) => {
          const component = components?.[name];
          return { name, score: component?.score ?? null, weight: component?.weight ?? 0, detail: component?.detail ?? 'not computed yet' };
        });
      },
    }),
    history: t.field({
      type: [HealthPointRef],
      description: 'Score changes over the last `days` days, newest first: the trend.',
      args: { days: t.arg.int({ defaultValue: 30 }) },
      complexity: { field: 5, multiplier: 10 },
      resolve: async (health, args, ctx) =>
        (await getAccountHealth(ctx.db, { accountId: health.accountId, reader: ctx.actor, historyDays: Math.min(Math.max(args.days ?? 30, 1), 365) }))?.history ?? [],
    }),
    sentiment: t.field({
      type: CsmSentimentRef,
      nullable: true,
      description: "The CSM's latest sentiment, shown beside the score and never mixed into it.",
      resolve: async (health, _args, ctx) => (await getAccountHealth(ctx.db, { accountId: health.accountId, reader: ctx.actor, historyDays: 1 }))?.sentiment ?? null,
    }),
  }),
});

builder.objectField(AccountRef, 'health', (t) =>
  t.field({
    type: AccountHealthRef,
    nullable: true,
    description:
      'The latest health; null until health has been computed for the account. Computed without customer signal, it has status `insufficient_data` and no score.',
    resolve: (account, _args, ctx) => {
      const listed = ctx.loaders.listed.get(account)?.health;
      return listed !== undefined ? listed : ctx.loaders.health.load(account.id);
    },
  }),
);

const AtRiskItemRef = builder.objectRef<AtRiskItem>('AtRiskAccount').implement({
  description: 'An account At risk, Critical, or falling fast, with why. Accounts without a score (`insufficient_data`) are never listed.',
  fields: (t) => ({
    account: t.field({ type: AccountRef, resolve: (item) => item.account }),
    score: t.exposeInt('score'),
    status: t.expose('status', { type: HealthStatusEnum }),
    scoreDayAgo: t.exposeInt('scoreDayAgo', { nullable: true }),
    drop: t.exposeInt('drop', { description: 'Points lost since about a day ago; positive means it fell.' }),
    reasons: t.stringList({
      description: 'What moved the score, then what the account’s people say beside it (e.g. “champion left 12 days ago”).',
      resolve: async (item, _args, ctx) => withRelationshipReasons(item.reasons, await ctx.loaders.relationshipReasons.load(item.account.id)),
    }),
    renewalDate: t.expose('renewalDate', { type: 'Date', nullable: true }),
    csm: t.field({ type: UserRef, nullable: true, resolve: (item) => item.csm }),
  }),
});

builder.queryField('atRisk', (t) =>
  t.field({
    type: [AtRiskItemRef],
    description:
      'Accounts At risk or Critical, or whose score dropped the most, biggest drop first, then lowest score. Accounts with `insufficient_data` are left out.',
    args: { csmId: t.arg.id({ required: false }), first: t.arg.int({ defaultValue: 25 }) },
    complexity: (args) => ({ field: 5, multiplier: Math.min(Math.max(args.first ?? 25, 1), 100) }),
    resolve: (_root, args, ctx) =>
      listAtRisk(ctx.db, {
        csmId: args.csmId ? String(args.csmId) : null,
        reader: ctx.actor,
        limit: Math.min(Math.max(args.first ?? 25, 1), 100),
      }),
  }),
);

interface ScopedSettings extends HealthModelSettings {
  scope: string;
}

const HealthWeightsRef = builder.objectRef<HealthModelSettings['weights']>('HealthWeights').implement({
  fields: (t) => ({
    usage: t.exposeFloat('usage'),
    support: t.exposeFloat('support'),
    nps: t.exposeFloat('nps'),
    engagement: t.exposeFloat('engagement'),
  }),
});

const HealthSettingsRef = builder.objectRef<ScopedSettings>('HealthSettings').implement({
  description: 'Weights and thresholds of the health model, for everyone (`default`) or one segment.',
  fields: (t) => ({
    scope: t.exposeString('scope'),
    weights: t.field({ type: HealthWeightsRef, resolve: (settings) => settings.weights }),
    healthyMin: t.exposeInt('healthyMin', { description: 'Healthy at or above this score.' }),
    atRiskMin: t.exposeInt('atRiskMin', { description: 'At risk at or above this score (below healthyMin); Critical below it.' }),
  }),
});

builder.queryField('healthSettings', (t) =>
  t.field({
    type: [HealthSettingsRef],
    description: 'The health model settings in effect, for `default` and each segment.',
    resolve: async (_root, _args, ctx) => {
      const settings = await getHealthSettings(ctx.db, { reader: ctx.actor });
      return (['default', 'smb', 'mid_market', 'enterprise'] as const).map((scope) => ({ scope, ...settings[scope] }));
    },
  }),
);

const HealthWeightsInput = builder.inputType('HealthWeightsInput', {
  fields: (t) => ({
    usage: t.float({ required: true }),
    support: t.float({ required: true }),
    nps: t.float({ required: true }),
    engagement: t.float({ required: true }),
  }),
});

builder.mutationField('updateHealthSettings', (t) =>
  t.field({
    type: HealthSettingsRef,
    description: 'Admins only: sets weights and thresholds for everyone (`default`) or one segment; applies at the next recompute.',
    args: {
      scope: t.arg.string({ required: true, description: '`default`, `smb`, `mid_market` or `enterprise`.' }),
      weights: t.arg({ type: HealthWeightsInput, required: true }),
      healthyMin: t.arg.int({ required: true }),
      atRiskMin: t.arg.int({ required: true }),
    },
    resolve: async (_root, args, ctx) => {
      const settings = await updateHealthSettings(ctx.db, {
        scope: args.scope,
        weights: args.weights,
        healthyMin: args.healthyMin,
        atRiskMin: args.atRiskMin,
        actor: ctx.actor,
      });
      return { scope: args.scope, ...settings };
    },
  }),
);
