CREATE TYPE "public"."playbook_run_status" AS ENUM('running', 'completed', 'closed');--> statement-breakpoint
CREATE TYPE "public"."playbook_step_role" AS ENUM('csm', 'ae', 'manager');--> statement-breakpoint
CREATE TYPE "public"."playbook_trigger" AS ENUM('usage_drop', 'health_critical', 'no_first_key_action', 'expansion_signal', 'renewal_180', 'renewal_90', 'renewal_30', 'closed_won', 'handoff_accepted', 'champion_left', 'manual');--> statement-breakpoint
ALTER TYPE "public"."task_source" ADD VALUE 'playbook';--> statement-breakpoint
CREATE TABLE "playbook_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"playbook_id" uuid NOT NULL,
	"trigger" "playbook_trigger" NOT NULL,
	"occasion" text,
	"rule_firing_id" bigint,
	"renewal_id" uuid,
	"handoff_id" uuid,
	"status" "playbook_run_status" DEFAULT 'running' NOT NULL,
	"started_by" uuid,
	"started_by_label" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"closed_at" timestamp with time zone,
	"closed_by" uuid,
	"closed_by_label" text,
	"closed_reason" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "playbook_runs_closed_has_reason" CHECK (("playbook_runs"."status" = 'closed') = ("playbook_runs"."closed_at" is not null and "playbook_runs"."closed_reason" is not null)),
	CONSTRAINT "playbook_runs_completed_has_time" CHECK (("playbook_runs"."status" = 'completed') = ("playbook_runs"."completed_at" is not null))
);
--> statement-breakpoint
CREATE TABLE "playbook_steps" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"playbook_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"title" text NOT NULL,
	"owner_role" "playbook_step_role" NOT NULL,
	"due_in_days" integer NOT NULL,
	"suggested_stage_key" text,
	"removed_at" timestamp with time zone,
	CONSTRAINT "playbook_steps_due_in_days" CHECK ("playbook_steps"."due_in_days" >= 0)
);
--> statement-breakpoint
CREATE TABLE "playbooks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"key" text NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"triggers" "playbook_trigger"[] NOT NULL,
	"retired_at" timestamp with time zone,
	"retired_by" uuid,
	"created_by" uuid,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "playbooks_has_trigger" CHECK (cardinality("playbooks"."triggers") > 0)
);
--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "playbook_run_id" uuid;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN "playbook_step_id" uuid;--> statement-breakpoint
ALTER TABLE "playbook_runs" ADD CONSTRAINT "playbook_runs_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbook_runs" ADD CONSTRAINT "playbook_runs_playbook_id_playbooks_id_fk" FOREIGN KEY ("playbook_id") REFERENCES "public"."playbooks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbook_runs" ADD CONSTRAINT "playbook_runs_rule_firing_id_rule_firings_id_fk" FOREIGN KEY ("rule_firing_id") REFERENCES "public"."rule_firings"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbook_runs" ADD CONSTRAINT "playbook_runs_renewal_id_renewals_id_fk" FOREIGN KEY ("renewal_id") REFERENCES "public"."renewals"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbook_runs" ADD CONSTRAINT "playbook_runs_handoff_id_handoffs_id_fk" FOREIGN KEY ("handoff_id") REFERENCES "public"."handoffs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbook_runs" ADD CONSTRAINT "playbook_runs_started_by_users_id_fk" FOREIGN KEY ("started_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbook_runs" ADD CONSTRAINT "playbook_runs_closed_by_users_id_fk" FOREIGN KEY ("closed_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbook_steps" ADD CONSTRAINT "playbook_steps_playbook_id_playbooks_id_fk" FOREIGN KEY ("playbook_id") REFERENCES "public"."playbooks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbook_steps" ADD CONSTRAINT "playbook_steps_suggested_stage_key_lifecycle_stages_key_fk" FOREIGN KEY ("suggested_stage_key") REFERENCES "public"."lifecycle_stages"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbooks" ADD CONSTRAINT "playbooks_retired_by_users_id_fk" FOREIGN KEY ("retired_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "playbooks" ADD CONSTRAINT "playbooks_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "playbook_runs_running_key" ON "playbook_runs" USING btree ("account_id","playbook_id") WHERE "playbook_runs"."status" = 'running';--> statement-breakpoint
CREATE UNIQUE INDEX "playbook_runs_occasion_key" ON "playbook_runs" USING btree ("playbook_id","occasion");--> statement-breakpoint
CREATE INDEX "playbook_runs_account_idx" ON "playbook_runs" USING btree ("account_id","started_at");--> statement-breakpoint
CREATE UNIQUE INDEX "playbook_steps_position_key" ON "playbook_steps" USING btree ("playbook_id","position") WHERE "playbook_steps"."removed_at" is null;--> statement-breakpoint
CREATE UNIQUE INDEX "playbooks_key_key" ON "playbooks" USING btree ("key");--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_playbook_run_id_playbook_runs_id_fk" FOREIGN KEY ("playbook_run_id") REFERENCES "public"."playbook_runs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tasks" ADD CONSTRAINT "tasks_playbook_step_id_playbook_steps_id_fk" FOREIGN KEY ("playbook_step_id") REFERENCES "public"."playbook_steps"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "tasks_playbook_run_idx" ON "tasks" USING btree ("playbook_run_id") WHERE "tasks"."playbook_run_id" is not null;