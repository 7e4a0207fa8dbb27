CREATE TYPE "public"."job_run_status" AS ENUM('running', 'succeeded', 'failed', 'abandoned');--> statement-breakpoint
CREATE TYPE "public"."job_run_trigger" AS ENUM('schedule', 'manual');--> statement-breakpoint
CREATE TABLE "health_settings" (
	"scope" text PRIMARY KEY NOT NULL,
	"weights" jsonb NOT NULL,
	"healthy_min" integer NOT NULL,
	"at_risk_min" integer NOT NULL,
	"updated_by" uuid,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rule_firings" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "rule_firings_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"rule" text NOT NULL,
	"account_id" uuid NOT NULL,
	"occasion" text NOT NULL,
	"reason" text NOT NULL,
	"fired_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "job_runs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "job_runs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"job" text NOT NULL,
	"trigger" "job_run_trigger" NOT NULL,
	"scheduled_for" timestamp with time zone NOT NULL,
	"instance_id" text NOT NULL,
	"status" "job_run_status" DEFAULT 'running' NOT NULL,
	"attempt" integer DEFAULT 1 NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	"lease_until" timestamp with time zone NOT NULL,
	"counts" jsonb,
	"error" text
);
--> statement-breakpoint
ALTER TABLE "health_settings" ADD CONSTRAINT "health_settings_updated_by_users_id_fk" FOREIGN KEY ("updated_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rule_firings" ADD CONSTRAINT "rule_firings_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "rule_firings_rule_account_occasion_key" ON "rule_firings" USING btree ("rule","account_id","occasion");--> statement-breakpoint
CREATE INDEX "rule_firings_account_idx" ON "rule_firings" USING btree ("account_id","fired_at");--> statement-breakpoint
CREATE UNIQUE INDEX "job_runs_scheduled_fire_key" ON "job_runs" USING btree ("job","scheduled_for") WHERE "job_runs"."trigger" = 'schedule';--> statement-breakpoint
CREATE INDEX "job_runs_job_started_idx" ON "job_runs" USING btree ("job","started_at");