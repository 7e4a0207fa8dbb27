/**
 * The notification contract: every kind of notification the outbox carries, the payload it holds and where it
 * may go. Domain enqueues with it (a wrong payload fails typecheck, and at the write if it slips through), the
 * bot decodes with it, and the target strings stored in the outbox are written and read only here.
 */
import { z } from 'zod';
import { webhookEnvelope } from './webhook-events.ts';

/** A notification the contract refuses: a bug in the code that wrote it, not in anyone's input. */
export class NotificationContractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotificationContractError';
  }
}

// Targets. The outbox stores them as text, so these spellings are data already in databases: never reword them.
const HANDOFFS = 'channel:handoffs';
const AT_RISK = 'channel:at_risk';
const USER_PREFIX = 'user:';
const WEBHOOK_PREFIX = 'webhook:';
// Slack conversation and member ids (channel, private channel, DM, user, enterprise user).
const SLACK_ID = /^[CDGUW][A-Z0-9]{2,}$/;

/** The handoff channel configured for the team (`SLACK_HANDOFF_CHANNEL`); account threads live there. */
export const handoffChannelTarget = HANDOFFS;
/** The at-risk channel configured for the team (`SLACK_AT_RISK_CHANNEL`). */
export const atRiskChannelTarget = AT_RISK;

export type HandoffChannelTarget = typeof HANDOFFS;
export type AtRiskChannelTarget = typeof AT_RISK;
export type UserTarget = `${typeof USER_PREFIX}${string}`;
export type SlackIdTarget = `${'C' | 'D' | 'G' | 'U' | 'W'}${string}`;
export type WebhookTarget = `${typeof WEBHOOK_PREFIX}${string}`;

/** Every webhook target, as a LIKE pattern: webhook rows are told apart from Slack ones by it. */
export const webhookTargetPattern = `${WEBHOOK_PREFIX}%`;

/** A webhook endpoint (db/schema/webhooks.ts), by id: each endpoint's deliveries go out in the order queued. */
export function webhookTarget(endpointId: string): WebhookTarget {
  return `${WEBHOOK_PREFIX}${endpointId}`;
}

/** A direct message to a Lifeline user, delivered to whoever their Slack identity is at delivery time. */
export function userTarget(userId: string): UserTarget {
  return `${USER_PREFIX}${userId}`;
}

/** A Slack conversation or member id, used as it is. */
export function slackIdTarget(id: string): SlackIdTarget {
  const parsed = parseNotificationTarget(id);
  if (parsed?.form !== 'slack') throw new NotificationContractError(`"${id}" is not a Slack id such as C0123456789.`);
  return parsed.id;
}

/** How the targets are written, for people reading the outbox (GraphQL descriptions, delivery errors). */
export const notificationTargetForms = `${HANDOFFS}, ${AT_RISK}, ${USER_PREFIX}<id>, a Slack id or ${WEBHOOK_PREFIX}<endpoint id>`;

interface TargetFormOf {
  handoffs: HandoffChannelTarget;
  at_risk: AtRiskChannelTarget;
  user: UserTarget;
  slack: SlackIdTarget;
  webhook: WebhookTarget;
}
type TargetForm = keyof TargetFormOf;

const targetFormNames: Record<TargetForm, string> = { handoffs: HANDOFFS, at_risk: AT_RISK, user: `${USER_PREFIX}<id>`, slack: 'a Slack id', webhook: `${WEBHOOK_PREFIX}<endpoint id>` };

export type ParsedNotificationTarget =
  | { form: 'handoffs' }
  | { form: 'at_risk' }
  | { form: 'user'; userId: string }
  | { form: 'slack'; id: SlackIdTarget }
  | { form: 'webhook'; endpointId: string };

function isSlackId(target: string): target is SlackIdTarget {
  return SLACK_ID.test(target);
}

/** Reads a stored target; null for one no release of Lifeline writes (it cannot be delivered). */
export function parseNotificationTarget(target: string): ParsedNotificationTarget | null {
  if (target === HANDOFFS) return { form: 'handoffs' };
  if (target === AT_RISK) return { form: 'at_risk' };
  if (target.startsWith(USER_PREFIX)) return { form: 'user', userId: target.slice(USER_PREFIX.length) };
  if (target.startsWith(WEBHOOK_PREFIX)) return { form: 'webhook', endpointId: target.slice(WEBHOOK_PREFIX.length) };
  if (isSlackId(target)) return { form: 'slack', id: target };
  return null;
}

// Payloads. Delivery renders from the database as it is then, so a payload names things rather than copying them.
// Rows already queued must keep decoding: add fields as optional, never rename one.

export const handoffPayload = z.object({ handoffId: z.string() });
export const alertPayload = z.object({
  accountId: z.string(),
  rule: z.string().min(1),
  reason: z.string().min(1),
  /** Set by a renewal escalation, naming the renewal at risk. */
  renewalId: z.string().optional(),
  /** The rule firing behind the alert: an expansion signal's alert offers to qualify it as a lead. */
  firingId: z.number().int().optional(),
});
export const renewalCheckpointPayload = z.object({ accountId: z.string(), renewalId: z.string(), daysLeft: z.number().int(), reason: z.string().min(1) });
/** The channel's digest has no `csmId`; a CSM's own digest lists only their accounts. */
export const atRiskDigestPayload = z.object({ day: z.string(), csmId: z.string().optional() });
export const atRiskEscalationPayload = z.object({ day: z.string(), accountIds: z.array(z.string()) });
export const stageAuditPayload = z.object({ accountId: z.string(), transitionId: z.number().int() });
export const taskPayload = z.object({ taskId: z.string() });
export const leadPayload = z.object({ leadId: z.string() });

// Listed in the order the GraphQL description of `Notification.kind` names them.
const notificationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('handoff'), payload: handoffPayload }),
  z.object({ kind: z.literal('alert'), payload: alertPayload }),
  z.object({ kind: z.literal('renewal_checkpoint'), payload: renewalCheckpointPayload }),
  z.object({ kind: z.literal('at_risk_digest'), payload: atRiskDigestPayload }),
  z.object({ kind: z.literal('at_risk_escalation'), payload: atRiskEscalationPayload }),
  z.object({ kind: z.literal('stage_audit'), payload: stageAuditPayload }),
  z.object({ kind: z.literal('handoff_overdue'), payload: handoffPayload }),
  z.object({ kind: z.literal('task_assigned'), payload: taskPayload }),
  z.object({ kind: z.literal('task_overdue'), payload: taskPayload }),
  z.object({ kind: z.literal('lead_handed'), payload: leadPayload }),
  z.object({ kind: z.literal('lead_outcome'), payload: leadPayload }),
  // An event for a webhook endpoint: unlike Slack messages it is a fact at a moment, so the payload carries it whole
  // (domain/webhook-events.ts declares each type), and every attempt sends the same body under the same id.
  z.object({ kind: z.literal('webhook'), payload: webhookEnvelope }),
]);

/** A decoded notification: its kind, and the payload of that kind. */
export type Notification = z.output<typeof notificationSchema>;
export type NotificationKind = Notification['kind'];
export type NotificationPayload<K extends NotificationKind> = Extract<Notification, { kind: K }>['payload'];

export const notificationKinds: readonly NotificationKind[] = notificationSchema.options.map((option) => option.shape.kind.value);

/** Where each kind may go. A Slack id is accepted where a caller may name the channel itself. */
const notificationTargets = {
  // The handoff message is the account's thread, which lives only in the handoff channel.
  handoff: ['handoffs'],
  alert: ['user', 'at_risk', 'handoffs', 'slack'],
  renewal_checkpoint: ['user', 'at_risk'],
  at_risk_digest: ['at_risk', 'user'],
  at_risk_escalation: ['user', 'at_risk'],
  stage_audit: ['handoffs', 'slack'],
  handoff_overdue: ['user'],
  task_assigned: ['user'],
  // To the owner's manager; the at-risk channel when the workspace has no manager at all.
  task_overdue: ['user', 'at_risk'],
  // A qualified lead to the account's AE; the handoff channel when the account has none.
  lead_handed: ['user', 'handoffs'],
  // Accepted, declined, won or lost: back to the account's CSM.
  lead_outcome: ['user'],
  webhook: ['webhook'],
} as const satisfies Record<NotificationKind, readonly TargetForm[]>;

/** The targets a kind of notification may be written to. */
export type NotificationTarget<K extends NotificationKind = NotificationKind> = TargetFormOf[(typeof notificationTargets)[K][number]];

/** A notification as a producer writes it: the kind decides the payload's shape and where it may go. */
export type NotificationDraft = {
  [K in NotificationKind]: { kind: K; target: NotificationTarget<K>; payload: NotificationPayload<K> };
}[NotificationKind];

export function isNotificationKind(kind: string): kind is NotificationKind {
  return notificationKinds.some((known) => known === kind);
}

function describeIssues(error: z.ZodError): string {
  // The union's issues sit under `payload`; the payload's own field names are what a reader needs.
  return error.issues.map((issue) => `${issue.path.slice(1).map(String).join('.') || '(payload)'}: ${issue.message}`).join('; ');
}

export type DecodedNotification = { ok: true; notification: Notification } | { ok: false; error: string };

/** Decodes a stored notification (an outbox row) with the contract, or says why it cannot be. */
export function decodeNotification(row: { kind: string; payload: unknown }): DecodedNotification {
  if (!isNotificationKind(row.kind)) return { ok: false, error: `There is no "${row.kind}" kind of notification.` };
  const result = notificationSchema.safeParse({ kind: row.kind, payload: row.payload });
  if (!result.success) return { ok: false, error: `The ${row.kind} notification has a malformed payload: ${describeIssues(result.error)}` };
  return { ok: true, notification: result.data };
}

/**
 * Checks a notification before it is queued, so a producer's mistake fails the write that caused it (and rolls
 * its transaction back) instead of parking at delivery. Returns the payload as it is stored.
 */
export function checkNotification(draft: NotificationDraft): Notification['payload'] {
  // The caller's types already hold this; the check catches what slips past them (casts, JSON, untyped tests).
  const decoded = decodeNotification(draft);
  if (!decoded.ok) throw new NotificationContractError(decoded.error);
  const allowed: readonly TargetForm[] = notificationTargets[draft.kind];
  const form = parseNotificationTarget(draft.target)?.form;
  if (!form || !allowed.includes(form)) {
    throw new NotificationContractError(`A ${draft.kind} notification cannot go to "${draft.target}": it goes to ${allowed.map((name) => targetFormNames[name]).join(' or ')}.`);
  }
  return decoded.notification.payload;
}
