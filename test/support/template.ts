import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the migrated PGlite template lives between the global setup and the test files. */
export const PGLITE_TEMPLATE_FILE = join(fileURLToPath(new URL('../../.data/test', import.meta.url)), 'pglite-template.tar');

/** The migrated PostgreSQL database every test file copies with CREATE DATABASE … TEMPLATE. */
export const POSTGRES_TEMPLATE_DB = 'lifeline_test_template';

export function databaseUrlWithName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}
