/**
 * The events Lifeline sends to webhook endpoints: each type declared once here with its version, what it means and
 * the shape of its `data`. A delivered body is `{ type, version, timestamp, data }`; the `webhook-id` header is the
 * event's id, the same for every attempt and every endpoint. Payload rules: add fields (optional for receivers),
 * never rename or remove one within a version; a breaking change is a new version of the type.
 */
import { z } from 'zod';

const actor = z.object({
  userId: z.string().nullable().describe('The Lifeline user, when a person acted.'),
  label: z.string().describe('Who acted, as history names them (a person, a token, a rule).'),
});
const healthStatus = z.enum(['healthy', 'at_risk', 'critical', 'insufficient_data']);

const task = z.object({
  taskId: z.string(),
  accountId: z.string(),
  accountName: z.string(),
  title: z.string(),
  ownerId: z.string(),
  dueOn: z.string().describe('YYYY-MM-DD'),
  source: z.string().describe('rule_firing, renewal_checkpoint, digest_item, handoff_step or person'),
  status: z.string(),
});

/** The catalogue: type → version, description, data. */
export const webhookEventTypes = {
  'account.health_changed': {
    version: 1,
    description: 'An account’s health status changed (healthy, at_risk, critical, insufficient_data) at a recompute.',
    data: z.object({
      accountId: z.string(),
      accountName: z.string(),
      crmId: z.string().nullable(),
      previousStatus: healthStatus,
      status: healthStatus,
      score: z.number().nullable(),
      components: z.unknown().describe('The score’s components (usage, support, NPS, engagement) as the API shows them.'),
      reasons: z.array(z.string()).describe('Why the score is what it is, biggest cost first.'),
    }),
  },
  'account.stage_moved': {
    version: 1,
    description: 'An account moved from one lifecycle stage to another (any surface: Slack, GraphQL, a rule, closed-won).',
    data: z.object({
      accountId: z.string(),
      accountName: z.string(),
      crmId: z.string().nullable(),
      fromStage: z.string().nullable(),
      toStage: z.string(),
      direction: z.enum(['initial', 'forward', 'backward']),
      actor,
      reason: z.string().nullable(),
      source: z.string(),
      occurredAt: z.string(),
    }),
  },
  'handoff.step': {
    version: 1,
    description: 'A handoff from sales to customer success was created or took a step (confirmed, accepted, kickoff scheduled, completed).',
    data: z.object({
      handoffId: z.string(),
      accountId: z.string(),
      status: z.string(),
      aeId: z.string().nullable(),
      csmId: z.string().nullable(),
      kickoffAt: z.string().nullable(),
    }),
  },
  'renewal.opened': {
    version: 1,
    description: 'A renewal’s window opened: the contract ends within the renewal window.',
    data: z.object({ renewalId: z.string(), accountId: z.string(), contractEnd: z.string(), windowOpensOn: z.string() }),
  },
  'digest.at_risk': {
    version: 1,
    description: 'The day’s at-risk digest: every account on the at-risk list, as the channel digest shows it.',
    data: z.object({
      day: z.string(),
      accounts: z.array(
        z.object({
          accountId: z.string(),
          accountName: z.string(),
          csmId: z.string().nullable(),
          score: z.number().nullable(),
          status: z.string(),
          reason: z.string().nullable(),
        }),
      ),
    }),
  },
  'task.created': { version: 1, description: 'A task was created, by a person or a trigger.', data: task.extend({ actor }) },
  'task.completed': { version: 1, description: 'A task was marked done.', data: task.extend({ actor, outcomeNote: z.string().nullable() }) },
  'task.reassigned': { version: 1, description: 'A task was given to someone else.', data: task.extend({ actor, previousOwnerId: z.string() }) },
} as const;

export type WebhookEventType = keyof typeof webhookEventTypes;
export type WebhookEventData<T extends WebhookEventType> = z.input<(typeof webhookEventTypes)[T]['data']>;

export const webhookEventTypeNames = Object.keys(webhookEventTypes) as WebhookEventType[];

export function isWebhookEventType(type: string): type is WebhookEventType {
  return Object.hasOwn(webhookEventTypes, type);
}

/** The envelope kept in the outbox: the id sent as `webhook-id`, and the body sent. */
export const webhookEnvelope = z
  .object({
    eventId: z.string().regex(/^msg_[A-Za-z0-9]{20,}$/),
    type: z.string(),
    version: z.number().int(),
    timestamp: z.string(),
    data: z.unknown(),
  })
  .superRefine((envelope, ctx) => {
    if (!isWebhookEventType(envelope.type)) {
      ctx.addIssue({ code: 'custom', path: ['type'], message: `no event type "${envelope.type}"` });
      return;
    }
    const declared = webhookEventTypes[envelope.type];
    if (envelope.version !== declared.version) ctx.addIssue({ code: 'custom', path: ['version'], message: `${envelope.type} is version ${declared.version}` });
    const data = declared.data.safeParse(envelope.data);
    if (!data.success) for (const issue of data.error.issues) ctx.addIssue({ code: 'custom', path: ['data', ...issue.path.map(String)], message: issue.message });
  });

export type WebhookEnvelope = z.output<typeof webhookEnvelope>;

/** The body an endpoint receives. */
export function webhookBody(envelope: WebhookEnvelope): string {
  return JSON.stringify({ type: envelope.type, version: envelope.version, timestamp: envelope.timestamp, data: envelope.data });
}
