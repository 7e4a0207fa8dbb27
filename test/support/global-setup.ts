import { ensureInstallDefaults } from '../../domain/install-defaults.ts';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import { openDatabase } from '../../db/client.ts';
import type { TestProject } from 'vitest/node';
import { PGLITE_RUN_ONLY, databaseIndependentFiles } from './suites.ts';
import { databaseUrlWithName, pgliteTemplateFile, postgresTemplateName } from './template.ts';

/**
 * Migrates one template database per run. Each test file then starts from a copy of it: a PGlite data
 * directory loaded from a tarball, or a PostgreSQL database created from the template.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const url = process.env.TEST_DATABASE_URL;
  if (url) {
    console.log(`Files that open no database ${PGLITE_RUN_ONLY}: ${databaseIndependentFiles.join(', ')}`);
    const templateName = postgresTemplateName();
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`create database ${templateName}`);
    } finally {
      await admin.end();
    }
    const template = await openDatabase({ kind: 'postgres', url: databaseUrlWithName(url, templateName), max: 1 });
    try {
      await template.migrate();
      await ensureInstallDefaults(template.db);
    } finally {
      await template.close();
    }
    project.provide('postgresTemplate', templateName);
    return async () => {
      const cleanup = postgres(url, { max: 1, onnotice: () => {} });
      try {
        await cleanup.unsafe(`drop database if exists ${templateName} with (force)`);
      } finally {
        await cleanup.end();
      }
    };
  }

  const pglite = await PGlite.create();
  const template = await openDatabase({ kind: 'pglite', pglite });
  await template.migrate();
  await ensureInstallDefaults(template.db);
  const dump = await pglite.dumpDataDir('none');
  const file = pgliteTemplateFile();
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  await template.close();
  project.provide('pgliteTemplate', file);
  return () => rm(file, { force: true });
}
