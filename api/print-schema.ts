import { writeFile } from 'node:fs/promises';
import { printLifelineSchema } from './schema.ts';

await writeFile(new URL('./schema.graphql', import.meta.url), printLifelineSchema());
