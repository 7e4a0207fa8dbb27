// Creating one account, with its first stage recorded as the initial transition of its history.
import type { Db } from '../../db/client.ts';
import { type Account, type Segment, type TransitionSource, accounts, stageTransitions } from '../../db/schema.ts';
import type { Actor } from '../actors.ts';

export interface CreateAccountParams {
  name: string;
  segment: Segment;
  stageKey: string;
  domain?: string | null;
  externalId?: string | null;
  arrCents?: number;
  csmId?: string | null;
  aeId?: string | null;
  contractStart?: string | null;
  contractEnd?: string | null;
  /** When the account entered its first stage (defaults to now); used by imports and the demo book. */
  enteredAt?: Date;
  actor: Actor;
  source: TransitionSource;
}

/** Creates an account and records its first stage as the initial transition of its history. */
export async function createAccount(db: Db, params: CreateAccountParams): Promise<Account> {
  const enteredAt = params.enteredAt ?? new Date();
  return db.transaction(async (tx) => {
    const [account] = await tx
      .insert(accounts)
      .values({
        name: params.name,
        segment: params.segment,
        stageKey: params.stageKey,
        domain: params.domain ?? null,
        externalId: params.externalId ?? null,
        arrCents: params.arrCents ?? 0,
        csmId: params.csmId ?? null,
        aeId: params.aeId ?? null,
        contractStart: params.contractStart ?? null,
        contractEnd: params.contractEnd ?? null,
        stageEnteredAt: enteredAt,
        createdAt: enteredAt,
        updatedAt: enteredAt,
        version: 1,
      })
      .returning();
    if (!account) throw new Error('Account insert returned no row');
    await tx.insert(stageTransitions).values({
      accountId: account.id,
      fromStage: null,
      toStage: account.stageKey,
      direction: 'initial',
      actorId: params.actor.userId,
      actorLabel: params.actor.label,
      source: params.source,
      reason: 'Account created',
      accountVersion: 1,
      occurredAt: enteredAt,
    });
    return account;
  });
}
