CREATE TYPE "public"."segment" AS ENUM('smb', 'mid_market', 'enterprise');--> statement-breakpoint
CREATE TYPE "public"."token_role" AS ENUM('admin', 'manager', 'csm', 'ae', 'viewer', 'integration');--> statement-breakpoint
CREATE TYPE "public"."transition_direction" AS ENUM('initial', 'forward', 'backward');--> statement-breakpoint
CREATE TYPE "public"."transition_source" AS ENUM('slack', 'api', 'rule', 'import');--> statement-breakpoint
CREATE TYPE "public"."user_role" AS ENUM('admin', 'manager', 'csm', 'ae', 'viewer');--> statement-breakpoint
CREATE TABLE "accounts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"external_id" text,
	"name" text NOT NULL,
	"domain" text,
	"segment" "segment" NOT NULL,
	"arr_cents" bigint DEFAULT 0 NOT NULL,
	"csm_id" uuid,
	"ae_id" uuid,
	"stage_key" text NOT NULL,
	"stage_entered_at" timestamp with time zone DEFAULT now() NOT NULL,
	"contract_start" date,
	"contract_end" date,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "accounts_external_id_unique" UNIQUE("external_id")
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"role" "token_role" NOT NULL,
	"user_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "lifecycle_stages" (
	"key" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"position" integer NOT NULL,
	"owner_role" "user_role" NOT NULL,
	"entry_criteria" text NOT NULL,
	"exit_criteria" text NOT NULL,
	"sla_days" integer,
	"terminal" boolean DEFAULT false NOT NULL,
	CONSTRAINT "lifecycle_stages_position_unique" UNIQUE("position")
);
--> statement-breakpoint
CREATE TABLE "stage_transitions" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "stage_transitions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account_id" uuid NOT NULL,
	"from_stage" text,
	"to_stage" text NOT NULL,
	"direction" "transition_direction" NOT NULL,
	"actor_id" uuid,
	"actor_label" text NOT NULL,
	"source" "transition_source" NOT NULL,
	"reason" text,
	"account_version" integer NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"email" text NOT NULL,
	"slack_user_id" text,
	"role" "user_role" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_csm_id_users_id_fk" FOREIGN KEY ("csm_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_ae_id_users_id_fk" FOREIGN KEY ("ae_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "accounts" ADD CONSTRAINT "accounts_stage_key_lifecycle_stages_key_fk" FOREIGN KEY ("stage_key") REFERENCES "public"."lifecycle_stages"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stage_transitions" ADD CONSTRAINT "stage_transitions_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stage_transitions" ADD CONSTRAINT "stage_transitions_from_stage_lifecycle_stages_key_fk" FOREIGN KEY ("from_stage") REFERENCES "public"."lifecycle_stages"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stage_transitions" ADD CONSTRAINT "stage_transitions_to_stage_lifecycle_stages_key_fk" FOREIGN KEY ("to_stage") REFERENCES "public"."lifecycle_stages"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "stage_transitions" ADD CONSTRAINT "stage_transitions_actor_id_users_id_fk" FOREIGN KEY ("actor_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "accounts_stage_key_idx" ON "accounts" USING btree ("stage_key","id");--> statement-breakpoint
CREATE INDEX "accounts_csm_id_idx" ON "accounts" USING btree ("csm_id","id");--> statement-breakpoint
CREATE INDEX "accounts_ae_id_idx" ON "accounts" USING btree ("ae_id","id");--> statement-breakpoint
CREATE INDEX "accounts_segment_idx" ON "accounts" USING btree ("segment","id");--> statement-breakpoint
CREATE INDEX "accounts_name_idx" ON "accounts" USING btree (lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "stage_transitions_account_version_key" ON "stage_transitions" USING btree ("account_id","account_version");--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_key" ON "users" USING btree (lower("email"));--> statement-breakpoint
CREATE UNIQUE INDEX "users_slack_user_id_key" ON "users" USING btree ("slack_user_id");