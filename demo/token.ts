// The demo's admin token, for Lifeline running on its own (the embedded database, no Slack): kept beside the
// database in its folder, so the token in a bookmark, a script or GraphiQL keeps working across restarts. It is
// made only for the embedded database; a PostgreSQL deployment gets its tokens from an admin.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db/client.ts';
import { authenticateToken, createApiToken, revokeApiTokensNamed } from '../domain/tokens.ts';

export const DEMO_TOKEN_NAME = 'Local demo';
export const DEMO_TOKEN_FILE = 'demo-admin-token';

async function readKept(path: string): Promise<string | undefined> {
  try {
    const kept = (await readFile(path, 'utf8')).trim();
    return kept === '' ? undefined : kept;
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The demo admin token: the one kept in `dir` while it still opens Lifeline as an admin; otherwise a new one,
 * written there (readable by this user only) after any older demo token is revoked.
 */
export async function demoAdminToken(db: Db, params: { dir: string; adminId: string | null }): Promise<{ token: string; created: boolean }> {
  const path = join(params.dir, DEMO_TOKEN_FILE);
  const kept = await readKept(path);
  if (kept) {
    const actor = await authenticateToken(db, kept);
    if (actor?.role === 'admin') return { token: kept, created: false };
  }
  await revokeApiTokensNamed(db, DEMO_TOKEN_NAME);
  const { token } = await createApiToken(db, { name: DEMO_TOKEN_NAME, role: 'admin', userId: params.adminId });
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  return { token, created: true };
}

/**
 * SECURITY: whether a page may carry the demo admin token (GraphiQL's Authorization header). Only when Lifeline
 * listens on loopback, so nobody but this machine's user can load the page; on any other interface the token is
 * printed to the console only.
 */
export function demoTokenMayBeShown(host: string | undefined): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}
