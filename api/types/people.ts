import type { CsmSentiment } from '../../db/schema.ts';
import { contactRoles } from '../../db/schema.ts';
import {
  type Contact,
  MAX_UPSERT_CONTACTS,
  type UpsertContactsResult,
  contactKey,
  getContact,
  listContactAnswers,
  listContacts,
  markContactLeft,
  upsertContacts,
} from '../../domain/people/contacts.ts';
import { MAX_SENTIMENT_HISTORY, MAX_SENTIMENT_NOTE, listSentimentHistory, setSentiment } from '../../domain/people/sentiment.ts';
import { builder } from '../builder.ts';
import { AccountRef } from './account.ts';
import { CsmSentimentRef, SentimentEnum } from './health.ts';
import { SurveyResponseRef } from './ingestion.ts';
import { UserRef } from './user.ts';

const ContactRoleEnum = builder.enumType('ContactRole', {
  description: 'The part a person on the customer’s side plays: `champion`, `executive_sponsor`, `admin` (of the product), `user`.',
  values: contactRoles,
});

export const ContactRef = builder.objectRef<Contact>('Contact').implement({
  description: 'A person on the customer’s side of an account. One per account and email (compared case-insensitively).',
  fields: (t) => ({
    id: t.exposeID('id'),
    accountId: t.exposeID('accountId'),
    account: t.field({ type: AccountRef, nullable: true, resolve: (contact, _args, ctx) => ctx.loaders.account.load(contact.accountId) }),
    name: t.exposeString('name'),
    email: t.exposeString('email'),
    role: t.expose('role', { type: ContactRoleEnum }),
    left: t.boolean({ description: 'Whether they have left the customer.', resolve: (contact) => contact.leftAt !== null }),
    leftAt: t.expose('leftAt', { type: 'DateTime', nullable: true }),
    leftMarkedBy: t.field({
      type: UserRef,
      nullable: true,
      description: 'The person who marked them as left (null for a token without a person: see `leftMarkedByLabel`).',
      resolve: (contact, _args, ctx) => (contact.leftMarkedBy ? ctx.loaders.user.load(contact.leftMarkedBy) : null),
    }),
    leftMarkedByLabel: t.exposeString('leftMarkedByLabel', { nullable: true, description: 'Who marked them as left, as shown to people.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    surveyResponses: t.field({
      type: [SurveyResponseRef],
      description: 'Their NPS and CSAT answers, newest first: answers whose respondent email is theirs, on the same account.',
      args: { first: t.arg.int({ defaultValue: 20 }) },
      complexity: { field: 5, multiplier: 10 },
      resolve: (contact, args, ctx) => listContactAnswers(ctx.db, { reader: ctx.actor, contactId: contact.id, limit: args.first ?? 20 }),
    }),
  }),
});

builder.objectField(SurveyResponseRef, 'respondentEmail', (t) => t.exposeString('respondentEmail', { nullable: true }));
builder.objectField(SurveyResponseRef, 'contact', (t) =>
  t.field({
    type: ContactRef,
    nullable: true,
    description: 'The account’s contact with the respondent’s email (case-insensitive), linked when read: null when there is none.',
    resolve: (response, _args, ctx) => (response.respondentEmail ? ctx.loaders.contactByEmail.load(contactKey(response.accountId, response.respondentEmail)) : null),
  }),
);

builder.objectField(CsmSentimentRef, 'author', (t) =>
  t.field({
    type: UserRef,
    nullable: true,
    description: 'Who set it (null for a token without a person).',
    resolve: (sentiment: CsmSentiment, _args, ctx) => (sentiment.authorId ? ctx.loaders.user.load(sentiment.authorId) : null),
  }),
);

builder.objectFields(AccountRef, (t) => ({
  contacts: t.field({
    type: [ContactRef],
    description: 'The people on the customer’s side, champions first, then sponsors, admins and users; those who left included.',
    complexity: { field: 5, multiplier: 10 },
    resolve: (account, _args, ctx) => ctx.loaders.contactsByAccount.load(account.id),
  }),
  sentiment: t.field({
    type: CsmSentimentRef,
    nullable: true,
    description: "The CSM's latest read of the account, shown beside the health score and never part of it.",
    resolve: async (account, _args, ctx) => (await listSentimentHistory(ctx.db, { reader: ctx.actor, accountId: account.id, limit: 1 }))[0] ?? null,
  }),
  sentimentHistory: t.field({
    type: [CsmSentimentRef],
    description: `Every sentiment set on the account, newest first (at most ${MAX_SENTIMENT_HISTORY}).`,
    args: { first: t.arg.int({ defaultValue: 20 }) },
    complexity: { field: 5, multiplier: 10 },
    resolve: (account, args, ctx) => listSentimentHistory(ctx.db, { reader: ctx.actor, accountId: account.id, limit: args.first ?? 20 }),
  }),
}));

builder.queryFields((t) => ({
  contacts: t.field({
    type: [ContactRef],
    nullable: true,
    description:
      'An account’s contacts, champions first; null when there is no such account you may read. Whoever reads the account reads its contacts (an account executive only the accounts they sold).',
    args: { accountId: t.arg.id({ required: true }), includeLeft: t.arg.boolean({ defaultValue: true, description: 'False leaves out those who left.' }) },
    complexity: { field: 5, multiplier: 10 },
    resolve: (_root, args, ctx) => listContacts(ctx.db, { reader: ctx.actor, accountId: String(args.accountId), includeLeft: args.includeLeft ?? true }),
  }),
}));

const ContactInput = builder.inputType('ContactInput', {
  fields: (t) => ({
    accountId: t.id({ required: true }),
    name: t.string({ required: true }),
    email: t.string({ required: true, description: 'With the account, what identifies the contact: the same email (in any case) updates them.' }),
    role: t.field({ type: ContactRoleEnum, required: false, description: '`user` when left out.' }),
  }),
});

const UpsertContactsPayloadRef = builder.objectRef<UpsertContactsResult>('UpsertContactsPayload').implement({
  fields: (t) => ({
    created: t.exposeInt('created'),
    updated: t.exposeInt('updated'),
    unchanged: t.exposeInt('unchanged', { description: 'Sent exactly as they already were: nothing was written for them.' }),
    contacts: t.field({ type: [ContactRef], description: 'The contacts sent, as they are now, in the order sent.', resolve: (result) => result.contacts }),
  }),
});

interface MarkedLeft {
  contact: Contact;
  championLeftSignal: boolean;
}

const MarkContactLeftPayloadRef = builder.objectRef<MarkedLeft>('MarkContactLeftPayload').implement({
  fields: (t) => ({
    contact: t.field({ type: ContactRef, resolve: (result) => result.contact }),
    championLeftSignal: t.boolean({
      description: 'Whether this call recorded the `champion_left` signal (a champion, not marked before): the CSM is alerted and given a task.',
      resolve: (result) => result.championLeftSignal,
    }),
  }),
});

builder.mutationFields((t) => ({
  upsertContacts: t.field({
    type: UpsertContactsPayloadRef,
    description: `Creates or updates contacts by account and email, at most ${MAX_UPSERT_CONTACTS} per call; sending the same list again changes nothing. The account's CSM, their manager or an admin may. Whether someone left is set with \`markContactLeft\`, never undone by a sync.`,
    args: { contacts: t.arg({ type: [ContactInput], required: true }) },
    resolve: (_root, args, ctx) =>
      upsertContacts(ctx.db, {
        actor: ctx.actor,
        contacts: args.contacts.map((contact) => ({ accountId: String(contact.accountId), name: contact.name, email: contact.email, ...(contact.role ? { role: contact.role } : {}) })),
      }),
  }),
  markContactLeft: t.field({
    type: MarkContactLeftPayloadRef,
    description:
      'Records that a contact left the customer (`leftAt`, today or earlier; now when left out). A champion leaving alerts the CSM and gives them a task, once per contact; health reasons then say “champion left N days ago”. Marking someone already marked changes nothing.',
    args: { contactId: t.arg.id({ required: true }), leftAt: t.arg({ type: 'DateTime', required: false }) },
    resolve: async (_root, args, ctx) => {
      const result = await markContactLeft(ctx.db, { actor: ctx.actor, contactId: String(args.contactId), leftAt: args.leftAt ?? null });
      const contact = (await getContact(ctx.db, { reader: ctx.actor, id: result.contact.id })) ?? result.contact;
      return { contact, championLeftSignal: result.firing !== null };
    },
  }),
  setSentiment: t.field({
    type: CsmSentimentRef,
    description: `Records the CSM's read of an account (with a note of at most ${MAX_SENTIMENT_NOTE} characters), kept in its history and shown beside the health score, never part of it. The account's CSM, their manager or an admin may.`,
    args: { accountId: t.arg.id({ required: true }), sentiment: t.arg({ type: SentimentEnum, required: true }), note: t.arg.string({ required: false }) },
    resolve: (_root, args, ctx) => setSentiment(ctx.db, { actor: ctx.actor, accountId: String(args.accountId), sentiment: args.sentiment, note: args.note ?? null }),
  }),
}));
