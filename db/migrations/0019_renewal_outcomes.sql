CREATE TYPE "public"."renewal_call_kind" AS ENUM('commit', 'likely', 'at_risk', 'churning');--> statement-breakpoint
CREATE TYPE "public"."renewal_outcome_kind" AS ENUM('renewed', 'downsell', 'churned');--> statement-breakpoint
CREATE TABLE "churn_reasons" (
	"key" text PRIMARY KEY NOT NULL,
	"label" text NOT NULL,
	"applies_to_churn" boolean DEFAULT true NOT NULL,
	"applies_to_contraction" boolean DEFAULT true NOT NULL,
	"position" integer DEFAULT 100 NOT NULL,
	"retired_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "renewal_calls" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"renewal_id" uuid NOT NULL,
	"call" "renewal_call_kind" NOT NULL,
	"note" text,
	"called_by" uuid,
	"called_by_label" text NOT NULL,
	"called_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "renewal_outcomes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"renewal_id" uuid NOT NULL,
	"outcome" "renewal_outcome_kind" NOT NULL,
	"previous_contract_end" date NOT NULL,
	"previous_arr_cents" bigint NOT NULL,
	"new_contract_end" date,
	"new_arr_cents" bigint NOT NULL,
	"mrr_delta_cents" bigint NOT NULL,
	"churn_reason_key" text,
	"note" text,
	"recorded_by" uuid,
	"recorded_by_label" text NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"superseded_at" timestamp with time zone,
	"corrects_id" uuid
);
--> statement-breakpoint
ALTER TABLE "stage_transitions" ADD COLUMN "churn_reason_key" text;--> statement-breakpoint
ALTER TABLE "revenue_changes" ADD COLUMN "churn_reason_key" text;--> statement-breakpoint
ALTER TABLE "renewal_calls" ADD CONSTRAINT "renewal_calls_renewal_id_renewals_id_fk" FOREIGN KEY ("renewal_id") REFERENCES "public"."renewals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "renewal_calls" ADD CONSTRAINT "renewal_calls_called_by_users_id_fk" FOREIGN KEY ("called_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "renewal_outcomes" ADD CONSTRAINT "renewal_outcomes_renewal_id_renewals_id_fk" FOREIGN KEY ("renewal_id") REFERENCES "public"."renewals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "renewal_outcomes" ADD CONSTRAINT "renewal_outcomes_churn_reason_key_churn_reasons_key_fk" FOREIGN KEY ("churn_reason_key") REFERENCES "public"."churn_reasons"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "renewal_outcomes" ADD CONSTRAINT "renewal_outcomes_recorded_by_users_id_fk" FOREIGN KEY ("recorded_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "renewal_calls_renewal_idx" ON "renewal_calls" USING btree ("renewal_id","called_at");--> statement-breakpoint
CREATE UNIQUE INDEX "renewal_outcomes_current_key" ON "renewal_outcomes" USING btree ("renewal_id") WHERE "renewal_outcomes"."superseded_at" is null;--> statement-breakpoint
CREATE INDEX "renewal_outcomes_renewal_idx" ON "renewal_outcomes" USING btree ("renewal_id","recorded_at");--> statement-breakpoint
ALTER TABLE "stage_transitions" ADD CONSTRAINT "stage_transitions_churn_reason_key_churn_reasons_key_fk" FOREIGN KEY ("churn_reason_key") REFERENCES "public"."churn_reasons"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "revenue_changes" ADD CONSTRAINT "revenue_changes_churn_reason_key_churn_reasons_key_fk" FOREIGN KEY ("churn_reason_key") REFERENCES "public"."churn_reasons"("key") ON DELETE no action ON UPDATE no action;