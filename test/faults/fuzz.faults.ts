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

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', 'x'.repeat(5000), '<!channel>', "'; drop table accounts; --", '\u0000', ...stageKeys),
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
        return nullable(fc.oneof(fc.constantFrom(...ids), fc.uuid(), text));
      case 'DateTime':
        return nullable(fc.oneof(fc.date({ noInvalidDate: true, min: new Date('2000-01-01'), max: new Date('2100-01-01') }).map((date) => date.toISOString()), text));
      case 'Date':
        return nullable(fc.oneof(fc.date({ noInvalidDate: true, min: new Date('2000-01-01'), max: new Date('2100-01-01') }).map((date) => date.toISOString().slice(0, 10)), text));
      default:
        return nullable(fc.oneof(text, fc.integer(), fc.jsonValue({ maxDepth: 2 })));
    }
  }
  return fc.constant(null);
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

describe('fuzzing', () => {
  it('random variables for every mutation: no unhandled error, no 5xx, and the database stays consistent', async () => {
    const replica = stack.replicas[0];
    if (!replica) throw new Error('no replica');
    const admin = await createUser(stack.database.db, { role: 'admin' });
    const token = await createToken(stack.database.db, 'admin', admin);
    const mutations = Object.values(schema.getMutationType()?.getFields() ?? {});
    const runsPerMutation = Number(process.env.FUZZ_RUNS ?? 25);
    const serverErrors: string[] = [];
    let requests = 0;
    let rejected = 0;
    for (const mutation of mutations) {
      const variableDefinitions = mutation.args.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
      const argumentList = mutation.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
      const document = `mutation Fuzz${variableDefinitions ? `(${variableDefinitions})` : ''} { ${mutation.name}${argumentList ? `(${argumentList})` : ''} ${selectionFor(getNamedType(mutation.type))} }`;
      const variables = fc.record(Object.fromEntries(mutation.args.map((arg) => [arg.name, valueFor(arg.type)])));
      await fc.assert(
        fc.asyncProperty(variables, async (values) => {
          requests += 1;
          const response = await fetch(`${replica.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify({ query: document, variables: values }),
            signal: AbortSignal.timeout(20_000),
          });
          const body: { errors?: { message?: string }[] } = await response.json();
          if (body.errors?.length) rejected += 1;
          if (response.status >= 500 || body.errors?.some((error) => !error.message || error.message === 'Unexpected error.')) {
            serverErrors.push(`${mutation.name} ${JSON.stringify(values).slice(0, 300)} → ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
          }
        }),
        { numRuns: runsPerMutation, seed: 20261125 },
      );
    }
    const problems = await consistencyProblems();
    await recordScenario({
      scenario: '9a. fuzzed GraphQL mutations',
      repetitions: requests,
      expected: 0,
      delivered: 0,
      duplicated: 0,
      rejected,
      failures: serverErrors.length + problems.length,
      note: `${mutations.length} mutations × ${runsPerMutation}`,
    });
    expect(serverErrors.slice(0, 10)).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('random signed Slack payloads for every action, modal and command: always acknowledged, never a 5xx, database consistent', async () => {
    const client = stack.slackClients[0];
    if (!client) throw new Error('no replica');
    const actionIds = Object.values(ActionIds);
    const callbackIds = Object.values(CallbackIds);
    const blockId = fc.oneof(fc.constantFrom(...ids.slice(0, 5).map((id) => cardBlockId(id, 1))), text.map((value) => value.slice(0, 200) || 'b'));
    const container = fc.record({
      type: fc.constant('message' as const),
      channelId: fc.constantFrom('C0001', 'D0001'),
      messageTs: fc.constant('1700000000.000100'),
      isEphemeral: fc.constant(true),
    });
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
    );
    let requests = 0;
    const failures: string[] = [];
    await fc.assert(
      fc.asyncProperty(payloads, async (payload) => {
        requests += 1;
        const responseUrl = stack.fake.responseUrl(`fuzz-${requests}`);
        let status: number;
        if (payload.kind === 'select') {
          status = (await client.blockAction(staticSelectAction({ userId: payload.user, actionId: payload.actionId, blockId: payload.blockId, selectedValue: payload.value, responseUrl, container: payload.container }))).status;
        } else if (payload.kind === 'button') {
          status = (await client.blockAction(buttonAction({ userId: payload.user, actionId: payload.actionId, blockId: payload.blockId, value: payload.value, responseUrl, container: payload.container }))).status;
        } else if (payload.kind === 'command') {
          status = (await client.command(slashCommand({ text: payload.text, user_id: payload.user, response_url: responseUrl }))).status;
        } else {
          const values = Object.fromEntries(
            Object.entries(payload.values).map(([field, value]) => [field, { value: { type: 'plain_text_input', value } }]),
          );
          status = (await client.viewSubmission(viewSubmissionPayload({ userId: payload.user, callbackId: payload.callbackId, privateMetadata: payload.metadata, values }))).status;
        }
        if (status !== 200) failures.push(`${payload.kind} ${JSON.stringify(payload).slice(0, 200)} → HTTP ${status}`);
      }),
      { numRuns: Number(process.env.FUZZ_SLACK_RUNS ?? 300), seed: 20261125 },
    );
    // Let the work after each ack finish before checking what it left behind.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const problems = await consistencyProblems();
    const crashes = (stack.replicas[0]?.output() ?? '').split('\n').filter((line) => /uncaught|unhandled/i.test(line));
    await recordScenario({
      scenario: '9b. fuzzed Slack payloads',
      repetitions: requests,
      expected: 0,
      delivered: 0,
      duplicated: 0,
      rejected: 0,
      failures: failures.length + problems.length + crashes.length,
    });
    expect(failures.slice(0, 10)).toEqual([]);
    expect(problems).toEqual([]);
    expect(crashes).toEqual([]);
  });
});
