// The Node.js flags Lifeline runs with, kept in package.json (config.nodeFlags) because `npm start` passes them to
// node there; whatever else starts Lifeline in its own process (the benchmarks, the fault suite's replicas) passes
// the same ones from here, so it measures and tests Lifeline as it runs.
//
// --max-semi-space-size=32: V8's young generation, in MB per semi-space (16 by default). A GraphQL request allocates
// a few hundred KB (rows, their words, the result, its JSON) that live until the answer is written; with the
// default, the objects of the requests still in flight were copied at each scavenge (every ~50 ms under load) and
// most then promoted, to die later in the old generation. Twice the room scavenges half as often: the process CPU
// of each request of the dashboard's at-risk page fell by about a tenth (bench/dashboard.bench.ts's page, CPU time
// per request over alternating rounds). It costs up to 32 MB of memory more (a young generation of 2 × 32 MB).
import { readFileSync } from 'node:fs';

interface PackageJson {
  config?: { nodeFlags?: unknown };
}

function readNodeFlags(): string[] {
  const packageJson = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as PackageJson;
  const flags = packageJson.config?.nodeFlags;
  if (flags === undefined) return [];
  if (typeof flags !== 'string') throw new Error('package.json config.nodeFlags must be a string of node flags, as `npm start` passes it.');
  return flags.split(/\s+/).filter((flag) => flag !== '');
}

/** The flags to pass to node before `--import tsx` when starting Lifeline (main.ts, or a server made by startLifeline). */
export const LIFELINE_NODE_FLAGS: readonly string[] = readNodeFlags();
