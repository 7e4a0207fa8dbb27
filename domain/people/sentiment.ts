/**
 * People on the customer's side: the CSM's own read of an account (positive, neutral, negative, with a note). Every
 * set is kept as a row, so its history can be shown; the latest is shown beside the health score and never mixed
 * into it (domain/health/ reads it, it does not score it).
 */
import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { Db, Tx } from '../../db/client.ts';
import { type CsmSentiment, type Sentiment, csmSentiments, sentiments } from '../../db/schema.ts';
import type { Actor } from '../actors.ts';
import { parseInput } from '../validation.ts';
import { accountToChange, readableAccount, requirePeopleRights } from './rights.ts';

export type { CsmSentiment, Sentiment };

export const MAX_SENTIMENT_NOTE = 2000;
export const MAX_SENTIMENT_HISTORY = 100;

const sentimentSchema = z.object({
  sentiment: z.enum(sentiments, `use one of ${sentiments.join(', ')}`),
  note: z
    .string()
    .trim()
    .max(MAX_SENTIMENT_NOTE, `the note is at most ${MAX_SENTIMENT_NOTE} characters`)
    .nullish()
    .transform((note) => (note ? note : null)),
});

export interface SetSentimentParams {
  actor: Actor;
  accountId: string;
  sentiment: Sentiment;
  note?: string | null;
  now?: Date;
}

/** Records the CSM's read of the account: the account's CSM, their manager or an admin may. Adds to the history. */
export async function setSentiment(db: Db, params: SetSentimentParams): Promise<CsmSentiment> {
  const input = parseInput(sentimentSchema, { sentiment: params.sentiment, note: params.note ?? null });
  return db.transaction(async (tx) => {
    const account = await accountToChange(tx, { accountId: params.accountId });
    await requirePeopleRights(tx, { actor: params.actor, account, action: `set the sentiment of ${account.name}` });
    const [row] = await tx
      .insert(csmSentiments)
      .values({ accountId: account.id, authorId: params.actor.userId, sentiment: input.sentiment, note: input.note, recordedAt: params.now ?? new Date() })
      .returning();
    if (!row) throw new Error(`The sentiment of account ${account.id} was not recorded`);
    return row;
  });
}

/** Every sentiment set on the account, newest first (at most `limit`), for whoever may read the account. */
export async function listSentimentHistory(db: Db | Tx, params: { reader: Actor; accountId: string; limit?: number }): Promise<CsmSentiment[]> {
  const account = await readableAccount(db, { accountId: params.accountId, reader: params.reader });
  return db
    .select()
    .from(csmSentiments)
    .where(eq(csmSentiments.accountId, account.id))
    .orderBy(desc(csmSentiments.recordedAt), desc(csmSentiments.id))
    .limit(Math.min(Math.max(params.limit ?? 20, 1), MAX_SENTIMENT_HISTORY));
}

/** The latest sentiment, or null when none was ever set. */
export async function currentSentiment(db: Db | Tx, params: { reader: Actor; accountId: string }): Promise<CsmSentiment | null> {
  const [latest] = await listSentimentHistory(db, { ...params, limit: 1 });
  return latest ?? null;
}

/**
 * Refuses, before any form opens, a person who may not set the account's sentiment, saying who can: the same check
 * `setSentiment` makes, so a surface can ask first and the person is not left to fill a form in vain.
 */
export async function requireSentimentRights(db: Db | Tx, params: { actor: Actor; accountId: string }): Promise<{ id: string; name: string }> {
  const account = await accountToChange(db, { accountId: params.accountId });
  await requirePeopleRights(db, { actor: params.actor, account, action: `set the sentiment of ${account.name}` });
  return { id: account.id, name: account.name };
}
