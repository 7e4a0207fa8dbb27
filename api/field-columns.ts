// The columns each GraphQL field of a type reads from its row, so a listing reads only the columns its query selects
// (api/partial-rows.ts). A field not listed reads nothing beside the row's key: its resolver reads the key only, or
// falls back to the whole row (columnOf). A column missing here costs a load, never a wrong answer.
import type { Account, HealthSummary, LifecycleStage, Renewal, User } from '../db/schema.ts';
import type { FieldColumns } from './partial-rows.ts';

/** Account (api/types/account.ts); its stage, owners, renewal and health are joined tables of their own. */
export const accountFieldColumns: FieldColumns<Account> = {
  externalId: ['externalId'],
  name: ['name'],
  domain: ['domain'],
  segment: ['segment'],
  arrCents: ['arrCents'],
  stageEnteredAt: ['stageEnteredAt'],
  daysInStage: ['stageEnteredAt'],
  contractStart: ['contractStart'],
  contractEnd: ['contractEnd'],
  renewalDate: ['contractEnd'],
  version: ['version'],
};

/** LifecycleStage (api/types/stage.ts). */
export const stageFieldColumns: FieldColumns<LifecycleStage> = {
  name: ['name'],
  position: ['position'],
  ownerRole: ['ownerRole'],
  entryCriteria: ['entryCriteria'],
  exitCriteria: ['exitCriteria'],
  slaDays: ['slaDays'],
  terminal: ['terminal'],
};

/** User (api/types/user.ts). */
export const userFieldColumns: FieldColumns<User> = {
  name: ['name'],
  email: ['email'],
  role: ['role'],
  slackUserId: ['slackUserId'],
  manager: ['managerId'],
};

/** Renewal (api/types/renewal.ts). */
export const renewalFieldColumns: FieldColumns<Renewal> = {
  account: ['accountId'],
  contractEnd: ['contractEnd'],
  windowOpensOn: ['windowOpensOn'],
  status: ['status'],
  outcome: ['outcome'],
  daysUntilContractEnd: ['contractEnd'],
};

/** AccountHealth (api/types/health.ts). */
export const healthFieldColumns: FieldColumns<HealthSummary> = {
  score: ['score'],
  status: ['status'],
  scoreDayAgo: ['scoreDayAgo'],
  scoreWeekAgo: ['scoreWeekAgo'],
  dropSinceYesterday: ['scoreDayAgo', 'score'],
  dropOverWeek: ['scoreWeekAgo', 'score'],
  reasons: ['reasons'],
  computedAt: ['computedAt'],
  modelVersion: ['modelVersion'],
  components: ['components'],
};
