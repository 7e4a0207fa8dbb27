import { segments, tokenRoles, transitionDirections, transitionSources, userRoles } from '../../db/schema.ts';
import { builder } from '../builder.ts';

export const SegmentEnum = builder.enumType('Segment', {
  description: 'Customer segment, by company size.',
  values: segments,
});

export const UserRoleEnum = builder.enumType('UserRole', {
  description: 'What a person may do in Lifeline.',
  values: userRoles,
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
