import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/client.ts';
import type { Account, Segment, TokenRole, User, UserRole } from '../../db/schema.ts';
import { type CreateAccountParams, createAccount as createAccountInDomain } from '../../domain/accounts/create.ts';
import type { Actor } from '../../domain/actors.ts';
import { MAX_UPSERT_ACCOUNTS, type UpsertAccountInput, upsertAccounts } from '../../domain/accounts/crm-upsert.ts';
import { createApiToken } from '../../domain/tokens.ts';
import { createUser as createUserInDomain } from '../../domain/users.ts';

let sequence = 0;
const unique = () => `${++sequence}-${randomBytes(3).toString('hex')}`;
const setup: Actor = { userId: null, role: 'admin', label: 'Test setup' };

export async function createUser(db: Db, overrides: Partial<{ name: string; email: string; role: UserRole; slackUserId: string | null }> = {}): Promise<User> {
  const id = unique();
  return createUserInDomain(db, {
    name: overrides.name ?? `Person ${id}`,
    email: overrides.email ?? `person-${id}@example.test`,
    role: overrides.role ?? 'csm',
    slackUserId: overrides.slackUserId === undefined ? `U${id.replace(/\W/g, '').toUpperCase()}` : overrides.slackUserId,
  });
}

export async function createAccount(
  db: Db,
  overrides: Partial<Omit<CreateAccountParams, 'actor' | 'source'>> & { segment?: Segment } = {},
): Promise<Account> {
  return createAccountInDomain(db, {
    name: overrides.name ?? `Account ${unique()}`,
    segment: overrides.segment ?? 'mid_market',
    stageKey: overrides.stageKey ?? 'onboarding',
    arrCents: overrides.arrCents ?? 4_800_000,
    csmId: overrides.csmId ?? null,
    aeId: overrides.aeId ?? null,
    domain: overrides.domain ?? null,
    contractStart: overrides.contractStart ?? '2026-01-01',
    contractEnd: overrides.contractEnd ?? '2027-01-01',
    ...(overrides.enteredAt ? { enteredAt: overrides.enteredAt } : {}),
    actor: setup,
    source: 'import',
  });
}

/**
 * Many accounts at once, written as the CRM import writes them (one statement per MAX_UPSERT_ACCOUNTS): a book big
 * enough to load a recompute. They enter their stage now. Returns their ids in order.
 */
export async function createAccounts(db: Db, rows: Partial<UpsertAccountInput>[]): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < rows.length; start += MAX_UPSERT_ACCOUNTS) {
    const accounts = rows.slice(start, start + MAX_UPSERT_ACCOUNTS).map((row) => {
      const id = unique();
      return {
        externalId: `test-${id}`,
        name: `Account ${id}`,
        segment: 'mid_market' as const,
        stageKey: 'onboarding',
        arrCents: 4_800_000,
        contractStart: '2026-01-01',
        contractEnd: '2027-01-01',
        ...row,
      };
    });
    const result = await upsertAccounts(db, { accounts, actor: setup });
    ids.push(...result.accounts.map((account) => account.id));
  }
  return ids;
}

export async function createToken(db: Db, role: TokenRole, user?: User): Promise<string> {
  const { token } = await createApiToken(db, { name: `test ${role} ${unique()}`, role, userId: user?.id ?? null });
  return token;
}
