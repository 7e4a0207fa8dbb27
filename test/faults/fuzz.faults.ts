import fc from 'fast-check';
import {
  type GraphQLInputType,
  type GraphQLNamedType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from 'graphql';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../api/schema.ts';
import { ActionIds, CallbackIds, cardBlockId } from '../../bot/ids.ts';
import { queryRows } from '../../db/client.ts';
import { createAccount, createToken, createUser } from '../support/factories.ts';
import { buttonAction, slashCommand, staticSelectAction, viewSubmissionPayload } from '../support/slack-requests.ts';
import { recordScenario } from './support/report.ts';
import type { Replica } from './support/replica.ts';
import { type FaultStack, startFaultStack } from './support/stack.ts';

let stack: FaultStack;
let ids: string[] = [];
let slackUsers: string[] = [];

beforeAll(async () => {
  stack = await startFaultStack({ replicas: 1 });
  const people = await Promise.all(
    (['admin', 'manager', 'csm', 'ae', 'viewer'] as const).map((role, index) => createUser(stack.database.db, { role, slackUserId: `UFUZZ${index}` })),
  );
  slackUsers = [...people.map((person) => person.slackUserId ?? ''), 'UNLINKED99'];
  const accounts = await Promise.all(
    Array.from({ length: 5 }, (_, index) =>
      createAccount(stack.database.db, { stageKey: index % 2 === 0 ? 'onboarding' : 'pre_onboarding', csmId: people[2]?.id ?? null, aeId: people[3]?.id ?? null }),
    ),
  );
  ids = [...accounts.map((account) => account.id), ...people.map((person) => person.id)];
});
afterAll(async () => {
  await stack?.teardown();
});

const stageKeys = ['pre_onboarding', 'onboarding', 'implementation', 'early_adoption', 'mature_adoption', 'churned'];

/** Every C0 control character and DEL: each must be refused as bad input or stored as given, never an internal error. */
const CONTROL_CHARACTERS = [...Array.from({ length: 0x20 }, (_, code) => String.fromCharCode(code)), '\u007f'];
const controlInside = fc
  .tuple(
    fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom(...stageKeys)),
    // NUL most often: PostgreSQL stores every other control character but refuses NUL in text.
    fc.oneof({ weight: 1, arbitrary: fc.constant('\u0000') }, { weight: 1, arbitrary: fc.constantFrom(...CONTROL_CHARACTERS) }),
    fc.string({ maxLength: 12 }),
  )
  .map(([before, control, after]) => `${before}${control}${after}`);
// Half of a UTF-16 pair: JSON carries it as an escape, and PostgreSQL cannot store it as UTF-8.
const loneSurrogate = fc
  .tuple(fc.string({ maxLength: 8 }), fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff'), fc.string({ maxLength: 8 }))
  .map(([before, half, after]) => `${before}${half}${after}`);
// Long enough to break a column, an index entry (about 2.7 kB) or a Slack limit; short enough for any body bound.
const veryLong = fc.constantFrom('x'.repeat(100_000), 'é'.repeat(40_000), '🦄'.repeat(20_000), `${'a'.repeat(3000)}\u0000`);

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.constantFrom('', ' ', 'x'.repeat(5000), '<!channel>', "'; drop table accounts; --", '\u0000', '\u202e\u0645\u0631\u062d\u0628\u0627', ...stageKeys) },
  { weight: 3, arbitrary: controlInside },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 1, arbitrary: veryLong },
);

/** Values for any GraphQL input type: mostly well-typed, sometimes not, so both validation and domain code run. */
function valueFor(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return fc.oneof({ weight: 19, arbitrary: valueFor(type.ofType, depth) }, { weight: 1, arbitrary: fc.constant(null) });
  const nullable = (arbitrary: fc.Arbitrary<unknown>) => fc.oneof({ weight: 4, arbitrary }, { weight: 1, arbitrary: fc.constant(null) });
  if (isListType(type)) return nullable(fc.array(valueFor(type.ofType, depth + 1), { maxLength: depth > 1 ? 2 : 6 }));
  if (isEnumType(type)) return nullable(fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...type.getValues().map((value) => value.name)) }, { weight: 1, arbitrary: text }));
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    if (depth > 3) return fc.constant(null);
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    for (const field of fields) record[field.name] = valueFor(field.type, depth + 1);
    const required = fields.filter((field) => isNonNullType(field.type)).map((field) => field.name);
    return nullable(fc.record(record, { requiredKeys: required }));
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'Int':
        return nullable(fc.oneof(fc.integer({ min: -5, max: 500 }), fc.constantFrom(0, 1, 2 ** 31 - 1, -(2 ** 31)), fc.double()));
      case 'Float':
        return nullable(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer()));
      case 'Boolean':
        return nullable(fc.boolean());
      case 'ID':
        // Mostly ids that exist, so the other inputs of the same call reach the domain and the database.
        return nullable(
          fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...ids) }, { weight: 1, arbitrary: fc.uuid() }, { weight: 1, arbitrary: text }, { weight: 1, arbitrary: fc.constantFrom(...ids).map((id) => `${id}\u0000`) }),
        );
      case 'DateTime':
        return nullable(fc.oneof({ weight: 4, arbitrary: fc.date({ noInvalidDate: true, min: new Date('2000-01-01'), max: new Date('2100-01-01') }).map((date) => date.toISOString()) }, { weight: 1, arbitrary: text }));
      case 'Date':
        return nullable(fc.oneof({ weight: 4, arbitrary: fc.date({ noInvalidDate: true, min: new Date('2000-01-01'), max: new Date('2100-01-01') }).map((date) => date.toISOString().slice(0, 10)) }, { weight: 1, arbitrary: text }));
      case 'String':
        // Mostly strings, so string content (control characters, halves of pairs, length) is what gets tested.
        return nullable(fc.oneof({ weight: 8, arbitrary: text }, { weight: 1, arbitrary: fc.integer() }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }));
      default:
        return nullable(fc.oneof(text, fc.integer(), fc.jsonValue({ maxDepth: 2 })));
    }
  }
  return fc.constant(null);
}

/** The same value with `suffix` added to every String in it, found by the input type (enums, ids and dates stay). */
function withSuffixInStrings(type: GraphQLInputType, value: unknown, suffix: string): unknown {
  if (value === null || value === undefined) return value;
  if (isNonNullType(type)) return withSuffixInStrings(type.ofType, value, suffix);
  if (isListType(type)) return Array.isArray(value) ? value.map((item) => withSuffixInStrings(type.ofType, item, suffix)) : value;
  if (isInputObjectType(type)) {
    if (typeof value !== 'object') return value;
    const fields = type.getFields();
    return Object.fromEntries(Object.entries(value).map(([name, field]) => [name, fields[name] ? withSuffixInStrings(fields[name].type, field, suffix) : field]));
  }
  return isScalarType(type) && type.name === 'String' && typeof value === 'string' ? `${value}${suffix}` : value;
}

function selectionFor(type: GraphQLNamedType): string {
  return isObjectType(type) ? '{ __typename }' : '';
}

async function consistencyProblems(): Promise<string[]> {
  const problems: string[] = [];
  const chains = await queryRows<{ id: string }>(
    stack.database.db,
    sql`select a.id from accounts a left join stage_transitions t on t.account_id = a.id
        group by a.id, a.version having count(t.id) <> a.version or coalesce(max(t.account_version), 0) <> a.version`,
  );
  for (const row of chains) problems.push(`account ${row.id}: transition chain does not match its version`);
  const forks = await queryRows<{ account_id: string }>(
    stack.database.db,
    sql`select t.account_id from stage_transitions t join stage_transitions p
          on p.account_id = t.account_id and p.account_version = t.account_version - 1
        where t.from_stage is distinct from p.to_stage`,
  );
  for (const row of forks) problems.push(`account ${row.account_id}: a move does not start where the previous ended`);
  const current = await queryRows<{ id: string }>(
    stack.database.db,
    sql`select a.id from accounts a join lateral (select to_stage from stage_transitions t where t.account_id = a.id order by account_version desc limit 1) last on true
        where last.to_stage <> a.stage_key`,
  );
  for (const row of current) problems.push(`account ${row.id}: current stage differs from its last transition`);
  return problems;
}

/** A line a replica logged at error level or above (pino's 50 and 60), or a crash report on stderr. */
interface LoggedProblem {
  /** Where in the replica's output it starts, to tell which request came just before it. */
  at: number;
  line: string;
  listenerError: boolean;
}

/** Error-level and crash lines in a replica's output from `from` on. Warnings (refused requests) are expected. */
function problemsLogged(output: string, from: number): LoggedProblem[] {
  const found: LoggedProblem[] = [];
  let at = from;
  for (const line of output.slice(from).split('\n')) {
    const start = at;
    at += line.length + 1;
    if (line.trim() === '') continue;
    let level = 0;
    let message = '';
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null) {
        const value: unknown = Reflect.get(parsed, 'level');
        const msg: unknown = Reflect.get(parsed, 'msg');
        level = typeof value === 'number' ? value : 0;
        message = typeof msg === 'string' ? msg : '';
      }
    } catch {
      // Not a log line: Node's own report of an uncaught exception or unhandled rejection is plain text.
    }
    if (level >= 50 || /uncaught|unhandled|triggerUncaughtException/i.test(line)) {
      found.push({ at: start, line: line.slice(0, 600), listenerError: /listener failed/i.test(message) });
    }
  }
  return found;
}

/** The request sent last before a logged problem: the likeliest cause (work runs after the ack). */
function causeOf(problem: LoggedProblem, sent: { at: number; what: string }[]): string {
  let cause = 'before the first request';
  for (const request of sent) if (request.at <= problem.at) cause = request.what;
  return cause;
}

describe('fuzzing', () => {
  it('random variables for every mutation: no unhandled error, no 5xx, and the database stays consistent', async () => {
    const replica = stack.replicas[0];
    if (!replica) throw new Error('no replica');
    const admin = await createUser(stack.database.db, { role: 'admin' });
    const token = await createToken(stack.database.db, 'admin', admin);
    const mutations = Object.values(schema.getMutationType()?.getFields() ?? {});
    const runsPerMutation = Number(process.env.FUZZ_RUNS ?? 40);
    const serverErrors: string[] = [];
    const sent: { at: number; what: string }[] = [];
    const logFrom = replica.output().length;
    let requests = 0;
    let rejected = 0;
    for (const mutation of mutations) {
      const variableDefinitions = mutation.args.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
      const argumentList = mutation.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
      const document = `mutation Fuzz${variableDefinitions ? `(${variableDefinitions})` : ''} { ${mutation.name}${argumentList ? `(${argumentList})` : ''} ${selectionFor(getNamedType(mutation.type))} }`;
      const variables = fc.record(Object.fromEntries(mutation.args.map((arg) => [arg.name, valueFor(arg.type)])));
      // Sampled, not asserted: every input is tried and every failure listed, without shrinking against a server
      // whose state the earlier inputs changed. Unbiased, so the weights above hold: fast-check's bias towards
      // small values otherwise fills most calls with nulls that never get past validation.
      // Random inputs rarely get every argument right at once. Each one the server accepted is sent again with NUL,
      // another control character and half a surrogate pair added to each of its strings: those are inputs that
      // reach the database.
      const accepted: Record<string, unknown>[] = [];
      const hostileCopies = (values: Record<string, unknown>) =>
        ['\u0000', '\u001b', '\u007f', '\ud800'].map((suffix) =>
          Object.fromEntries(mutation.args.map((arg) => [arg.name, withSuffixInStrings(arg.type, values[arg.name], suffix)])),
        );
      const randomInputs = fc.sample(fc.noBias(variables), { numRuns: runsPerMutation, seed: 20261125 });
      for (let index = 0; index < randomInputs.length + accepted.length * 4; index += 1) {
        const values = index < randomInputs.length ? randomInputs[index] : hostileCopies(accepted[Math.floor((index - randomInputs.length) / 4)] ?? {})[(index - randomInputs.length) % 4];
        if (!values) continue;
        if (replica.exited()) break;
        requests += 1;
        const what = `${mutation.name} ${JSON.stringify(values).slice(0, 300)}`;
        sent.push({ at: replica.output().length, what });
        const response = await fetch(`${replica.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: document, variables: values }),
          signal: AbortSignal.timeout(20_000),
        }).catch((error: unknown) => error);
        if (!(response instanceof Response)) {
          serverErrors.push(`${what} → no answer: ${String(response)}`);
          continue;
        }
        const raw = await response.text();
        let body: { errors?: { message?: string; extensions?: { code?: string } }[] } | undefined;
        try {
          body = JSON.parse(raw);
        } catch {
          body = undefined;
        }
        if (body?.errors?.length) rejected += 1;
        else if (index < randomInputs.length && response.status === 200) accepted.push(values);
        const internal = body?.errors?.some((error) => !error.message || error.message.startsWith('Unexpected error') || error.extensions?.code === 'INTERNAL_SERVER_ERROR');
        if (response.status >= 500 || body === undefined || internal) {
          serverErrors.push(`${what} → ${response.status} ${raw.slice(0, 300)}`);
        }
      }
    }
    // Work after an answer (audit writes, wake-ups) logs a moment later.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const logged = problemsLogged(replica.output(), logFrom).map((problem) => `${problem.line}\n    after: ${causeOf(problem, sent)}`);
    const exited = replica.exited() ? [`the replica process ended: ${await replica.whenExited()}`] : [];
    const problems = await consistencyProblems();
    await recordScenario({
      scenario: '9a. fuzzed GraphQL mutations',
      repetitions: requests,
      expected: 'n/a',
      delivered: 'n/a',
      duplicated: 'n/a',
      rejected,
      failures: serverErrors.length + problems.length + logged.length + exited.length,
      note: `${mutations.length} mutations × ${runsPerMutation}; ${serverErrors.length} internal errors, ${logged.length} error-level log lines`,
    });
    expect(exited).toEqual([]);
    expect(serverErrors.slice(0, 10)).toEqual([]);
    expect(logged.slice(0, 10), 'error-level log lines (an expected refusal is not an error an operator must act on)').toEqual([]);
    expect(problems).toEqual([]);
  });

  it('random signed Slack requests, well-formed and not: each answered without a 5xx, the process never ends, nothing is logged as an error, the database stays consistent', async () => {
    const actionIds = Object.values(ActionIds);
    const callbackIds = Object.values(CallbackIds);
    const blockId = fc.oneof(fc.constantFrom(...ids.slice(0, 5).map((id) => cardBlockId(id, 1))), text.map((value) => value.slice(0, 200) || 'b'));
    const container = fc.record({
      type: fc.constant('message' as const),
      channelId: fc.constantFrom('C0001', 'D0001'),
      messageTs: fc.constant('1700000000.000100'),
      isEphemeral: fc.constant(true),
    });
    // JSON that is valid but not an object, and objects that name a request type but lack what it carries.
    const nonObjectJson = fc.oneof(
      fc.constantFrom('null', 'true', 'false', '0', '-1.5e308', '"block_actions"', '""', '[]', '[null]', '[{"type":"block_actions"}]'),
      fc.oneof(fc.string({ maxLength: 20 }), fc.double(), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 })).map((value) => JSON.stringify(value)),
    );
    const hollowObjects = fc.constantFrom(
      '{}',
      '{"type":null}',
      '{"type":"block_actions"}',
      '{"type":"block_actions","actions":null,"user":null}',
      '{"type":"block_actions","actions":[null],"user":{"id":"UFUZZ0"}}',
      '{"type":"view_submission","view":null}',
      '{"type":"block_suggestion"}',
      '{"type":"shortcut"}',
      '{"type":"message_action"}',
      '{"type":"event_callback","event":null}',
      '{"type":"event_callback","event":{"type":"app_home_opened"}}',
      '{"type":"url_verification"}',
      '{"ssl_check":"1"}',
    );
    const FORM = 'application/x-www-form-urlencoded';
    const raw = fc.oneof(
      fc.record({ kind: fc.constant('raw' as const), contentType: fc.constant('application/json'), body: fc.oneof(nonObjectJson, hollowObjects, text) }),
      fc.record({ kind: fc.constant('raw' as const), contentType: fc.constant(FORM), body: fc.oneof(nonObjectJson, hollowObjects, text).map((json) => new URLSearchParams({ payload: json }).toString()) }),
      fc.record({
        kind: fc.constant('raw' as const),
        contentType: fc.constant(FORM),
        body: fc.dictionary(fc.constantFrom('command', 'text', 'user_id', 'team_id', 'response_url', 'trigger_id', 'ssl_check', 'type', 'payload'), text).map((fields) => new URLSearchParams(fields).toString()),
      }),
      fc.record({ kind: fc.constant('raw' as const), contentType: fc.constantFrom('text/plain', `${FORM}; charset=utf-8`, 'application/json; charset=utf-8', ''), body: fc.oneof(nonObjectJson, hollowObjects, text) }),
    );
    const payloads = fc.oneof(
      fc.record({ kind: fc.constant('select' as const), user: fc.constantFrom(...slackUsers), actionId: fc.constantFrom(...actionIds), blockId, value: fc.oneof(fc.constantFrom(...stageKeys, ...ids), text), container }),
      fc.record({ kind: fc.constant('button' as const), user: fc.constantFrom(...slackUsers), actionId: fc.constantFrom(...actionIds), blockId, value: fc.oneof(fc.constantFrom(...ids), text), container }),
      fc.record({ kind: fc.constant('command' as const), user: fc.constantFrom(...slackUsers), text: fc.oneof(text, text.map((value) => `account ${value}`), fc.constantFrom('at-risk', 'renewals', 'help', '')) }),
      fc.record({
        kind: fc.constant('view' as const),
        user: fc.constantFrom(...slackUsers),
        callbackId: fc.constantFrom(...callbackIds),
        metadata: fc.oneof(text, fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)), fc.constantFrom(...ids).map((id) => JSON.stringify({ accountId: id, version: 1, toStage: 'churned' }))),
        values: fc.dictionary(fc.constantFrom('reason', 'goals', 'promises', 'stakeholders', 'risks', 'notes', 'toStage', 'kickoffDate'), text),
      }),
      raw,
    );

    const failures: string[] = [];
    const crashes: string[] = [];
    const logged: LoggedProblem[] = [];
    const sent: { at: number; what: string }[] = [];
    let listenerErrors = 0;
    let rejected = 0;
    let requests = 0;
    let replica = stack.replicas[0];
    let client = stack.slackClients[0];
    if (!replica || !client) throw new Error('no replica');
    let logFrom = replica.output().length;

    /** Reads what the replica logged; after a crash, replaces it so the rest of the inputs are still tried. */
    const collectLogs = (from: Replica) => {
      for (const problem of problemsLogged(from.output(), logFrom)) {
        logged.push({ ...problem, line: `${problem.line}\n    after: ${causeOf(problem, sent)}` });
        if (problem.listenerError) listenerErrors += 1;
      }
    };
    const replaceCrashed = async (what: string) => {
      if (!replica || !client) return;
      crashes.push(`the replica process ended (${await replica.whenExited()}) after: ${what}\n${replica.output().slice(logFrom).slice(-1500)}`);
      collectLogs(replica);
      const index = stack.replicas.indexOf(replica);
      stack.replicas.splice(index, 1);
      stack.slackClients.splice(index, 1);
      replica = await stack.addReplica();
      client = stack.slackClients.at(-1);
      sent.length = 0;
      logFrom = replica.output().length;
    };

    const samples = fc.sample(payloads, { numRuns: Number(process.env.FUZZ_SLACK_RUNS ?? 400), seed: 20261125 });
    type FuzzRequest = (typeof samples)[number];
    const send = async (payload: FuzzRequest, responseUrl: string): Promise<number> => {
      if (!client) throw new Error('no replica');
      switch (payload.kind) {
        case 'select':
          return (await client.blockAction(staticSelectAction({ userId: payload.user, actionId: payload.actionId, blockId: payload.blockId, selectedValue: payload.value, responseUrl, container: payload.container }))).status;
        case 'button':
          return (await client.blockAction(buttonAction({ userId: payload.user, actionId: payload.actionId, blockId: payload.blockId, value: payload.value, responseUrl, container: payload.container }))).status;
        case 'command':
          return (await client.command(slashCommand({ text: payload.text, user_id: payload.user, response_url: responseUrl }))).status;
        case 'view': {
          const values = Object.fromEntries(Object.entries(payload.values).map(([field, value]) => [field, { value: { type: 'plain_text_input', value } }]));
          return (await client.viewSubmission(viewSubmissionPayload({ userId: payload.user, callbackId: payload.callbackId, privateMetadata: payload.metadata, values }))).status;
        }
        case 'raw':
          return (await client.send(payload.body, payload.contentType)).status;
      }
    };
    const describePayload = (payload: FuzzRequest) => `${payload.kind} ${JSON.stringify(payload).slice(0, 240)}`;

    for (const payload of samples) {
      requests += 1;
      const what = describePayload(payload);
      sent.push({ at: replica.output().length, what });
      const status = await send(payload, stack.fake.responseUrl(`fuzz-${requests}`)).catch((error: unknown) => `no answer: ${String(error)}`);
      if (typeof status === 'string') {
        // A process that dies mid-request answers nothing; give it a moment to be seen as gone.
        await Promise.race([replica.whenExited(), new Promise((resolve) => setTimeout(resolve, 2000))]);
        if (!replica.exited()) failures.push(`${what} → ${status}`);
      } else if (status >= 500) {
        failures.push(`${what} → HTTP ${status}`);
      } else if (payload.kind === 'raw' ? status !== 200 && status !== 400 : status !== 200) {
        // Well-formed requests are acknowledged; malformed ones are acknowledged or refused as malformed.
        failures.push(`${what} → HTTP ${status}`);
      } else if (status === 400) {
        rejected += 1;
      }
      if (replica.exited()) await replaceCrashed(what);
    }
    // Let the work after each ack finish before checking what it left behind.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    if (replica.exited()) await replaceCrashed('the last requests');
    else collectLogs(replica);
    const problems = await consistencyProblems();
    await recordScenario({
      scenario: '9b. fuzzed Slack requests',
      repetitions: requests,
      expected: 'n/a',
      delivered: 'n/a',
      duplicated: 'n/a',
      rejected,
      failures: failures.length + problems.length + crashes.length + logged.length,
      note: `${crashes.length} process exits, ${failures.length} bad answers, ${logged.length} error-level log lines of which ${listenerErrors} listener errors`,
    });
    // One assertion, so a failing run shows every kind of problem it found at once.
    expect({
      'requests after which the process ended': crashes.slice(0, 5),
      'requests answered with a 5xx or not at all': failures.slice(0, 10),
      'error-level log lines, listener errors among them': logged.slice(0, 10).map((problem) => problem.line),
      'database inconsistencies': problems,
    }).toEqual({
      'requests after which the process ended': [],
      'requests answered with a 5xx or not at all': [],
      'error-level log lines, listener errors among them': [],
      'database inconsistencies': [],
    });
  });
});
