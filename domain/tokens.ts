import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type ApiToken, type TokenRole, apiTokens, users } from '../db/schema.ts';
import type { Actor } from './actors.ts';

const TOKEN_PREFIX = 'llt_';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface CreateApiTokenParams {
  name: string;
  role: TokenRole;
  userId?: string | null;
}

/** Returns the token once; only its hash is stored. */
export async function createApiToken(db: Db, params: CreateApiTokenParams): Promise<{ token: string; record: ApiToken }> {
  const token = TOKEN_PREFIX + randomBytes(24).toString('base64url');
  const [record] = await db
    .insert(apiTokens)
    .values({ name: params.name, role: params.role, userId: params.userId ?? null, tokenHash: hashToken(token) })
    .returning();
  if (!record) throw new Error('API token insert returned no row');
  return { token, record };
}

export async function revokeApiTokensNamed(db: Db, name: string): Promise<void> {
  await db
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.name, name), isNull(apiTokens.revokedAt)));
}

export interface AuthenticateOptions {
  /** LIFELINE_ADMIN_TOKEN: a bootstrap token with the admin role, compared without storing it. */
  bootstrapAdminToken?: string | undefined;
}

/** The actor a bearer token stands for, or null when the token is unknown or revoked. */
export async function authenticateToken(db: Db, token: string, options: AuthenticateOptions = {}): Promise<Actor | null> {
  if (token === '' || token.length > 512) return null;
  const presented = hashToken(token);
  if (options.bootstrapAdminToken) {
    // SECURITY: compare fixed-length digests in constant time, so the comparison leaks nothing about the secret.
    const expected = Buffer.from(hashToken(options.bootstrapAdminToken), 'hex');
    if (timingSafeEqual(Buffer.from(presented, 'hex'), expected)) {
      return { userId: null, role: 'admin', label: 'Admin token' };
    }
  }
  const [row] = await db
    .select({ token: apiTokens, userName: users.name })
    .from(apiTokens)
    .leftJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.tokenHash, presented), isNull(apiTokens.revokedAt)));
  if (!row) return null;
  return { userId: row.token.userId, role: row.token.role, label: row.userName ?? `API token "${row.token.name}"` };
}
