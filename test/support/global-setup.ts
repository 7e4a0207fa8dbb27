import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import { openDatabase } from '../../db/client.ts';
import { ensureDefaultStages } from '../../domain/lifecycle.ts';
import { PGLITE_TEMPLATE_FILE, POSTGRES_TEMPLATE_DB, databaseUrlWithName } from './template.ts';

/**
 * Migrates one template database per run. Each test file then starts from a copy of it: a PGlite data
 * directory loaded from a tarball, or a PostgreSQL database created from the template.
 */
export default async function setup(): Promise<void> {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`drop database if exists ${POSTGRES_TEMPLATE_DB} with (force)`);
      await admin.unsafe(`create database ${POSTGRES_TEMPLATE_DB}`);
    } finally {
      await admin.end();
    }
    const template = await openDatabase({ kind: 'postgres', url: databaseUrlWithName(url, POSTGRES_TEMPLATE_DB), max: 1 });
    try {
      await template.migrate();
      await ensureDefaultStages(template.db);
    } finally {
      await template.close();
    }
    return;
  }

  const pglite = await PGlite.create();
  const template = await openDatabase({ kind: 'pglite', pglite });
  await template.migrate();
  await ensureDefaultStages(template.db);
  const dump = await pglite.dumpDataDir('none');
  await mkdir(dirname(PGLITE_TEMPLATE_FILE), { recursive: true });
  await writeFile(PGLITE_TEMPLATE_FILE, Buffer.from(await dump.arrayBuffer()));
  await template.close();
}
