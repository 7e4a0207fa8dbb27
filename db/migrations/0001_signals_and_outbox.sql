CREATE TYPE "public"."outbox_status" AS ENUM('pending', 'sent', 'parked');--> statement-breakpoint
CREATE TYPE "public"."handoff_status" AS ENUM('pending', 'confirmed', 'accepted', 'kickoff_scheduled', 'completed');--> statement-breakpoint
CREATE TYPE "public"."renewal_status" AS ENUM('upcoming', 'open', 'renewed', 'churned');--> statement-breakpoint
CREATE TYPE "public"."revenue_change_kind" AS ENUM('new', 'expansion', 'contraction', 'churn', 'reactivation');--> statement-breakpoint
CREATE TYPE "public"."sentiment" AS ENUM('positive', 'neutral', 'negative');--> statement-breakpoint
CREATE TYPE "public"."survey_kind" AS ENUM('nps', 'csat');--> statement-breakpoint
CREATE TYPE "public"."ticket_severity" AS ENUM('low', 'normal', 'high', 'urgent');--> statement-breakpoint
CREATE TYPE "public"."touch_kind" AS ENUM('call', 'meeting', 'email', 'slack', 'other');--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "outbox_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"kind" text NOT NULL,
	"dedupe_key" text NOT NULL,
	"target" text NOT NULL,
	"message_key" text,
	"payload" jsonb NOT NULL,
	"status" "outbox_status" DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"slack_channel" text,
	"slack_ts" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	CONSTRAINT "outbox_dedupe_key_unique" UNIQUE("dedupe_key")
);
--> statement-breakpoint
CREATE TABLE "slack_messages" (
	"message_key" text PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"ts" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "csm_sentiments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"author_id" uuid,
	"sentiment" "sentiment" NOT NULL,
	"note" text,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "csm_touches" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"user_id" uuid,
	"kind" "touch_kind" NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "first_values" (
	"account_id" uuid PRIMARY KEY NOT NULL,
	"reached_at" timestamp with time zone NOT NULL,
	"description" text
);
--> statement-breakpoint
CREATE TABLE "handoffs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"opportunity_id" text NOT NULL,
	"account_id" uuid NOT NULL,
	"ae_id" uuid,
	"csm_id" uuid,
	"status" "handoff_status" DEFAULT 'pending' NOT NULL,
	"closed_won_at" timestamp with time zone NOT NULL,
	"goals" text,
	"promises" text,
	"stakeholders" text,
	"risks" text,
	"notes" text,
	"kickoff_at" timestamp with time zone,
	"go_live_target" date,
	"sla_due_at" timestamp with time zone NOT NULL,
	"confirmed_at" timestamp with time zone,
	"confirmed_by" uuid,
	"accepted_at" timestamp with time zone,
	"accepted_by" uuid,
	"kickoff_scheduled_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "handoffs_opportunity_id_unique" UNIQUE("opportunity_id")
);
--> statement-breakpoint
CREATE TABLE "renewals" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"contract_end" date NOT NULL,
	"window_opens_on" date NOT NULL,
	"status" "renewal_status" DEFAULT 'upcoming' NOT NULL,
	"outcome" text,
	"closed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "revenue_changes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"external_id" text,
	"account_id" uuid NOT NULL,
	"kind" "revenue_change_kind" NOT NULL,
	"mrr_delta_cents" bigint NOT NULL,
	"effective_date" date NOT NULL,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "revenue_changes_external_id_unique" UNIQUE("external_id")
);
--> statement-breakpoint
CREATE TABLE "survey_responses" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"external_id" text,
	"account_id" uuid NOT NULL,
	"kind" "survey_kind" NOT NULL,
	"score" integer NOT NULL,
	"respondent_email" text,
	"respondent_role" text,
	"comment" text,
	"responded_at" timestamp with time zone NOT NULL,
	CONSTRAINT "survey_responses_external_id_unique" UNIQUE("external_id")
);
--> statement-breakpoint
CREATE TABLE "tickets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"external_id" text,
	"account_id" uuid NOT NULL,
	"severity" "ticket_severity" NOT NULL,
	"subject" text NOT NULL,
	"opened_at" timestamp with time zone NOT NULL,
	"resolved_at" timestamp with time zone,
	CONSTRAINT "tickets_external_id_unique" UNIQUE("external_id")
);
--> statement-breakpoint
CREATE TABLE "usage_daily" (
	"account_id" uuid NOT NULL,
	"day" date NOT NULL,
	"active_users" integer NOT NULL,
	"seats" integer NOT NULL,
	"key_events" integer DEFAULT 0 NOT NULL,
	"advanced_events" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_daily_account_id_day_pk" PRIMARY KEY("account_id","day")
);
--> statement-breakpoint
ALTER TABLE "csm_sentiments" ADD CONSTRAINT "csm_sentiments_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "csm_sentiments" ADD CONSTRAINT "csm_sentiments_author_id_users_id_fk" FOREIGN KEY ("author_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "csm_touches" ADD CONSTRAINT "csm_touches_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "csm_touches" ADD CONSTRAINT "csm_touches_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "first_values" ADD CONSTRAINT "first_values_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "handoffs" ADD CONSTRAINT "handoffs_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "handoffs" ADD CONSTRAINT "handoffs_ae_id_users_id_fk" FOREIGN KEY ("ae_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "handoffs" ADD CONSTRAINT "handoffs_csm_id_users_id_fk" FOREIGN KEY ("csm_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "handoffs" ADD CONSTRAINT "handoffs_confirmed_by_users_id_fk" FOREIGN KEY ("confirmed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "handoffs" ADD CONSTRAINT "handoffs_accepted_by_users_id_fk" FOREIGN KEY ("accepted_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "renewals" ADD CONSTRAINT "renewals_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "revenue_changes" ADD CONSTRAINT "revenue_changes_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "survey_responses" ADD CONSTRAINT "survey_responses_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_daily" ADD CONSTRAINT "usage_daily_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "outbox_due_idx" ON "outbox" USING btree ("next_attempt_at","id") WHERE "outbox"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "csm_sentiments_account_idx" ON "csm_sentiments" USING btree ("account_id","recorded_at");--> statement-breakpoint
CREATE INDEX "csm_touches_account_idx" ON "csm_touches" USING btree ("account_id","occurred_at");--> statement-breakpoint
CREATE INDEX "handoffs_account_id_idx" ON "handoffs" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "handoffs_status_idx" ON "handoffs" USING btree ("status","sla_due_at");--> statement-breakpoint
CREATE UNIQUE INDEX "renewals_account_contract_end_key" ON "renewals" USING btree ("account_id","contract_end");--> statement-breakpoint
CREATE INDEX "renewals_contract_end_idx" ON "renewals" USING btree ("contract_end");--> statement-breakpoint
CREATE INDEX "revenue_changes_account_idx" ON "revenue_changes" USING btree ("account_id","effective_date");--> statement-breakpoint
CREATE INDEX "revenue_changes_date_idx" ON "revenue_changes" USING btree ("effective_date");--> statement-breakpoint
CREATE INDEX "survey_responses_account_idx" ON "survey_responses" USING btree ("account_id","responded_at");--> statement-breakpoint
CREATE INDEX "tickets_open_idx" ON "tickets" USING btree ("account_id") WHERE "tickets"."resolved_at" is null;--> statement-breakpoint
CREATE INDEX "usage_daily_day_idx" ON "usage_daily" USING btree ("day");