// Owns what a new install starts with: the lifecycle stages, the default playbooks and the churn reasons. Every
// entry point that opens a database for use (the server, the importer, the demo seed, the test template, the
// benches) calls this one function, so a default added here reaches all of them.
import type { Db } from '../db/client.ts';
import { ensureDefaultChurnReasons } from './churn-reasons.ts';
import { ensureDefaultStages } from './lifecycle/stages.ts';
import { ensureDefaultPlaybooks } from './plays/playbooks.ts';

/** Idempotent: seeds what is missing and leaves what admins edited alone. */
export async function ensureInstallDefaults(db: Db): Promise<void> {
  await ensureDefaultStages(db);
  await ensureDefaultPlaybooks(db);
  await ensureDefaultChurnReasons(db);
}
