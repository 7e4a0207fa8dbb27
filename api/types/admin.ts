import type { ApiToken } from '../../db/schema.ts';
import { defineStage, updateStage } from '../../domain/lifecycle/stages.ts';
import { issueApiToken, revokeApiToken } from '../../domain/tokens.ts';
import { MAX_UPSERT_PEOPLE, type UpsertPeopleResult, linkSlackUser, listUsers, upsertPeople } from '../../domain/users.ts';
import { builder } from '../builder.ts';
import { TokenRoleEnum, UserRoleEnum } from './enums.ts';
import { StageRef } from './stage.ts';
import { UserRef } from './user.ts';

const PersonInput = builder.inputType('PersonInput', {
  description: 'A person as an HR or identity system knows them; email is the key.',
  fields: (t) => ({
    email: t.string({ required: true }),
    name: t.string({ required: true }),
    role: t.field({ type: UserRoleEnum, required: true }),
    slackUserId: t.string({ required: false, description: 'Their Slack member id (U…); omitted keeps the current link.' }),
    managerEmail: t.string({ required: false, description: 'Whom they report to, a manager or admin in Lifeline or in the same call; omitted keeps the current one.' }),
  }),
});

const UpsertPeoplePayload = builder.objectRef<UpsertPeopleResult>('UpsertPeoplePayload').implement({
  fields: (t) => ({
    created: t.exposeInt('created'),
    updated: t.exposeInt('updated'),
    people: t.field({ type: [UserRef], complexity: 0, resolve: (payload) => payload.people }),
  }),
});

builder.queryField('users', (t) =>
  t.field({
    type: [UserRef],
    description: 'People in Lifeline, by name.',
    args: { role: t.arg({ type: UserRoleEnum, required: false }) },
    complexity: { field: 1, multiplier: 20 },
    resolve: (_root, args, ctx) => listUsers(ctx.db, { role: args.role ?? null, reader: ctx.actor }),
  }),
);

const ApiTokenRef = builder.objectRef<ApiToken>('ApiToken').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    role: t.expose('role', { type: TokenRoleEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    user: t.field({ type: UserRef, nullable: true, resolve: (token, _args, ctx) => (token.userId ? ctx.loaders.user.load(token.userId) : null) }),
  }),
});

const CreatedTokenRef = builder.objectRef<{ token: string; record: ApiToken }>('CreatedApiToken').implement({
  fields: (t) => ({
    token: t.exposeString('token', { description: 'The bearer token. Shown once: only its hash is stored.' }),
    apiToken: t.field({ type: ApiTokenRef, resolve: (created) => created.record }),
  }),
});

const DefineStageInput = builder.inputType('DefineStageInput', {
  fields: (t) => ({
    key: t.string({ required: true, description: 'Stable key, lowercase with underscores, e.g. `renewal_prep`.' }),
    name: t.string({ required: true }),
    position: t.int({ required: true, description: 'Order in the lifecycle; must be unused.' }),
    ownerRole: t.field({ type: UserRoleEnum, required: true }),
    entryCriteria: t.string({ required: false }),
    exitCriteria: t.string({ required: false }),
    slaDays: t.int({ required: false }),
    terminal: t.boolean({ required: false }),
  }),
});

const UpdateStageInput = builder.inputType('UpdateStageInput', {
  description: 'Omitted fields stay as they are. Set slaDays to null to remove the limit.',
  fields: (t) => ({
    key: t.string({ required: true }),
    name: t.string({ required: false }),
    position: t.int({ required: false }),
    ownerRole: t.field({ type: UserRoleEnum, required: false }),
    entryCriteria: t.string({ required: false }),
    exitCriteria: t.string({ required: false }),
    slaDays: t.int({ required: false }),
    terminal: t.boolean({ required: false }),
  }),
});

builder.mutationFields((t) => ({
  defineStage: t.field({
    type: StageRef,
    description: 'Adds a lifecycle stage (admins).',
    args: { input: t.arg({ type: DefineStageInput, required: true }) },
    resolve: (_root, { input }, ctx) =>
      defineStage(ctx.db, {
        actor: ctx.actor,
        key: input.key,
        name: input.name,
        position: input.position,
        ownerRole: input.ownerRole,
        entryCriteria: input.entryCriteria ?? '',
        exitCriteria: input.exitCriteria ?? '',
        slaDays: input.slaDays ?? null,
        terminal: input.terminal ?? false,
      }),
  }),
  updateStage: t.field({
    type: StageRef,
    description: 'Edits a lifecycle stage (admins). Stages are never deleted while accounts or history use them.',
    args: { input: t.arg({ type: UpdateStageInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      const given = <T>(value: T | null | undefined) => (value === null || value === undefined ? undefined : value);
      return updateStage(ctx.db, {
        actor: ctx.actor,
        key: input.key,
        name: given(input.name),
        position: given(input.position),
        ownerRole: given(input.ownerRole),
        entryCriteria: given(input.entryCriteria),
        exitCriteria: given(input.exitCriteria),
        // An explicit null removes the SLA; an omitted field keeps it.
        slaDays: input.slaDays === undefined ? undefined : input.slaDays,
        terminal: given(input.terminal),
      });
    },
  }),
  upsertPeople: t.field({
    type: UpsertPeoplePayload,
    description: `Creates or updates people by email, with role, Slack link and manager (admins; up to ${MAX_UPSERT_PEOPLE} per call). Idempotent, all or nothing; an omitted Slack id or manager keeps the current one.`,
    args: { people: t.arg({ type: [PersonInput], required: true }) },
    resolve: (_root, args, ctx) =>
      upsertPeople(ctx.db, {
        actor: ctx.actor,
        people: args.people.map((person) => ({
          email: person.email,
          name: person.name,
          role: person.role,
          slackUserId: person.slackUserId ?? null,
          managerEmail: person.managerEmail ?? null,
        })),
      }),
  }),
  linkSlackUser: t.field({
    type: UserRef,
    description: 'Links a person to their Slack member id (admins); null unlinks.',
    args: { userId: t.arg.id({ required: true }), slackUserId: t.arg.string({ required: false }) },
    resolve: (_root, args, ctx) => linkSlackUser(ctx.db, { actor: ctx.actor, userId: String(args.userId), slackUserId: args.slackUserId ?? null }),
  }),
  createApiToken: t.field({
    type: CreatedTokenRef,
    description: 'Issues an API token (admins). Integration tokens have no user; csm, ae and manager tokens belong to that person.',
    args: { name: t.arg.string({ required: true }), role: t.arg({ type: TokenRoleEnum, required: true }), userId: t.arg.id({ required: false }) },
    resolve: (_root, args, ctx) =>
      issueApiToken(ctx.db, { actor: ctx.actor, name: args.name, role: args.role, userId: args.userId ? String(args.userId) : null }),
  }),
  revokeApiToken: t.field({
    type: ApiTokenRef,
    description: 'Revokes an API token (admins); it stops working at once.',
    args: { tokenId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => revokeApiToken(ctx.db, { actor: ctx.actor, tokenId: String(args.tokenId) }),
  }),
}));
