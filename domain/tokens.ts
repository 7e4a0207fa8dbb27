import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { type ApiToken, type TokenRole, apiTokens, users } from '../db/schema.ts';
import { requireAccess } from './access.ts';
import type { Actor } from './actors.ts';
import { InvalidInputError, NotFoundError } from './errors.ts';
import { isUuid } from './validation.ts';

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
  const revoked = await db
    .update(apiTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.name, name), isNull(apiTokens.revokedAt)))
    .returning({ tokenHash: apiTokens.tokenHash });
  for (const { tokenHash } of revoked) forgetToken(tokenHash);
}

/**
 * How long this process trusts a token it has already looked up, without asking the database again. Every API
 * request presents a token, and the lookup was half of the statements a dashboard page cost.
 *
 * SECURITY: revoking a token takes effect at once in the process that revoked it (revokeApiToken and
 * revokeApiTokensNamed evict it), but another replica that saw the token in the last TOKEN_CACHE_TTL_MS keeps
 * accepting it until its entry expires: revocation reaches every replica within this many milliseconds. Keep it
 * short. Only tokens that exist and are not revoked are remembered; an unknown token always reaches the database.
 */
export const TOKEN_CACHE_TTL_MS = 10_000;
/** Enough for every token in use at once; past it the oldest entry goes first, so memory stays bounded. */
const TOKEN_CACHE_MAX_ENTRIES = 5_000;

/** Recently authenticated tokens of this process, by the SHA-256 of the token (never the token itself). */
const recentTokens = new Map<string, { actor: Actor; expiresAt: number }>();
/**
 * Counts evictions. A lookup that read the token before a revocation committed must not put it back afterwards,
 * so a lookup remembers its answer only when no token was evicted while it ran.
 */
let evictions = 0;

function rememberToken(tokenHash: string, actor: Actor, now: number, evictionsBefore: number): void {
  if (evictions !== evictionsBefore) return;
  recentTokens.delete(tokenHash);
  if (recentTokens.size >= TOKEN_CACHE_MAX_ENTRIES) {
    const oldest = recentTokens.keys().next();
    if (!oldest.done) recentTokens.delete(oldest.value);
  }
  recentTokens.set(tokenHash, { actor, expiresAt: now + TOKEN_CACHE_TTL_MS });
}

function forgetToken(tokenHash: string): void {
  evictions += 1;
  recentTokens.delete(tokenHash);
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
  const now = Date.now();
  const cached = recentTokens.get(presented);
  if (cached && cached.expiresAt > now) return { ...cached.actor };
  if (cached) recentTokens.delete(presented);
  const evictionsBefore = evictions;
  // Prepared: the same statement on every request, planned once per connection.
  const [row] = await db
    .select({ userId: apiTokens.userId, role: apiTokens.role, name: apiTokens.name, userName: users.name })
    .from(apiTokens)
    .leftJoin(users, eq(users.id, apiTokens.userId))
    .where(and(eq(apiTokens.tokenHash, presented), isNull(apiTokens.revokedAt)))
    .prepare('authenticate_token')
    .execute();
  if (!row) return null;
  const actor: Actor = { userId: row.userId, role: row.role, label: row.userName ?? `API token "${row.name}"` };
  rememberToken(presented, actor, now, evictionsBefore);
  return { ...actor };
}

export interface IssueApiTokenParams extends CreateApiTokenParams {
  actor: Actor;
}

/** An admin issues a token: shown once in the answer, stored only as its hash. */
export async function issueApiToken(db: Db, params: IssueApiTokenParams): Promise<{ token: string; record: ApiToken }> {
  requireAccess(params.actor, 'manage_tokens');
  const name = params.name.trim();
  if (name === '' || name.length > 100) throw new InvalidInputError('Give the token a name of 1 to 100 characters, e.g. "Salesforce sync".', 'name');
  if (params.role === 'integration' && params.userId) {
    throw new InvalidInputError('Integration tokens belong to a system, not a person: leave userId empty.', 'userId');
  }
  if (params.userId) {
    const [user] = isUuid(params.userId) ? await db.select().from(users).where(eq(users.id, params.userId)) : [];
    if (!user) throw new InvalidInputError(`No user with id ${params.userId}. List people with the \`users\` query.`, 'userId');
    if (user.role !== params.role && params.role !== 'viewer') {
      throw new InvalidInputError(`${user.name} is a ${user.role}; a personal token carries the person's role (${user.role}) or viewer.`, 'role');
    }
  } else if (params.role !== 'integration' && params.role !== 'admin' && params.role !== 'viewer') {
    // SECURITY: csm, ae and manager rights depend on who owns what, so those tokens must stand for a person.
    throw new InvalidInputError(`A ${params.role} token must belong to a person: pass userId.`, 'userId');
  }
  return createApiToken(db, { name, role: params.role, userId: params.userId ?? null });
}

/** Revokes a token by id (admins); revoking twice is harmless. */
export async function revokeApiToken(db: Db, params: { tokenId: string; actor: Actor }): Promise<ApiToken> {
  requireAccess(params.actor, 'manage_tokens');
  const [existing] = isUuid(params.tokenId) ? await db.select().from(apiTokens).where(eq(apiTokens.id, params.tokenId)) : [];
  if (!existing) throw new NotFoundError(`No API token with id ${params.tokenId}.`, 'tokenId');
  if (existing.revokedAt) return existing;
  const [revoked] = await db.update(apiTokens).set({ revokedAt: new Date() }).where(eq(apiTokens.id, existing.id)).returning();
  // SECURITY: this process stops accepting the token now; other replicas within TOKEN_CACHE_TTL_MS.
  forgetToken(existing.tokenHash);
  return revoked ?? existing;
}
