import {
  handoffStatuses,
  slackEmailLookupStatuses,
  healthStatuses,
  renewalStatuses,
  revenueChangeKinds,
  segments,
  surveyKinds,
  ticketSeverities,
  touchKinds,
  tokenRoles,
  transitionDirections,
  transitionSources,
  userRoles,
} from '../../db/schema.ts';
import { accountOrders } from '../../domain/accounts/listing.ts';
import { builder } from '../builder.ts';

export const SegmentEnum = builder.enumType('Segment', {
  description: 'Customer segment, by company size.',
  values: segments,
});

export const UserRoleEnum = builder.enumType('UserRole', {
  description: 'What a person may do in Lifeline.',
  values: userRoles,
});

export const SlackEmailLookupStatusEnum = builder.enumType('SlackEmailLookupStatus', {
  description:
    'What looking a person up in Slack by email came to: pending (not asked yet, or asked again later), linked, not_found (Slack has no member with this email), refused (the member is linked to someone else, or the person to another member), failed (Slack kept failing).',
  values: slackEmailLookupStatuses,
});

export const TokenRoleEnum = builder.enumType('TokenRole', {
  description: 'What an API token may do: a person role, or `integration` for ingestion-only machine access.',
  values: tokenRoles,
});

export const TransitionSourceEnum = builder.enumType('TransitionSource', {
  description: 'Where a stage change came from.',
  values: transitionSources,
});

export const TransitionDirectionEnum = builder.enumType('TransitionDirection', {
  description: '`initial` is the first stage of an account; `backward` moves to an earlier stage.',
  values: transitionDirections,
});

export const HealthStatusEnum = builder.enumType('HealthStatus', {
  description:
    'Healthy (score ≥ 70 by default), at risk (40-69), critical (< 40); insufficient data: recomputed with no customer signal (no usage in the last 6 weeks, no tickets, no NPS/CSAT answer in the last year, no CSM touch), so there is no score. Never computed yet is no health at all (null).',
  values: healthStatuses,
});

export const HandoffStatusEnum = builder.enumType('HandoffStatus', {
  description: 'A handoff goes pending → confirmed (by the AE) → accepted (by the CSM) → kickoff_scheduled → completed.',
  values: handoffStatuses,
});

export const TicketSeverityEnum = builder.enumType('TicketSeverity', { values: ticketSeverities });

export const TouchKindEnum = builder.enumType('TouchKind', { description: 'How the team was in contact with the customer.', values: touchKinds });

export const SurveyKindEnum = builder.enumType('SurveyKind', {
  description: '`nps` scores 0-10, `csat` scores 1-5.',
  values: surveyKinds,
});

export const RevenueChangeKindEnum = builder.enumType('RevenueChangeKind', {
  description: 'new, expansion and reactivation add MRR (positive delta); contraction and churn remove it (negative delta).',
  values: revenueChangeKinds,
});

export const RenewalStatusEnum = builder.enumType('RenewalStatus', {
  description: '`upcoming` until the renewal window opens, then `open`, then `renewed` or `churned`.',
  values: renewalStatuses,
});

export const AccountOrderEnum = builder.enumType('AccountOrder', {
  description:
    '`name` A→Z; `health` lowest score first; `health_drop` biggest fall over the last week first; `renewal_date` soonest contract end first; `arr` largest first; `time_in_stage` longest in its current stage first. Accounts without the value come last.',
  values: accountOrders,
});
