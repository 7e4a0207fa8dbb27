CREATE TYPE "public"."health_status" AS ENUM('healthy', 'at_risk', 'critical');--> statement-breakpoint
CREATE TABLE "account_health" (
	"account_id" uuid PRIMARY KEY NOT NULL,
	"score" integer NOT NULL,
	"status" "health_status" NOT NULL,
	"score_day_ago" integer,
	"score_week_ago" integer,
	"reasons" jsonb NOT NULL,
	"computed_at" timestamp with time zone NOT NULL,
	"model_version" integer NOT NULL,
	"note" text
);
--> statement-breakpoint
CREATE TABLE "health_scores" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "health_scores_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account_id" uuid NOT NULL,
	"score" integer NOT NULL,
	"status" "health_status" NOT NULL,
	"components" jsonb NOT NULL,
	"reasons" jsonb NOT NULL,
	"model_version" integer NOT NULL,
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "account_health" ADD CONSTRAINT "account_health_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "health_scores" ADD CONSTRAINT "health_scores_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "account_health_status_idx" ON "account_health" USING btree ("status","score");--> statement-breakpoint
CREATE INDEX "account_health_score_idx" ON "account_health" USING btree ("score");--> statement-breakpoint
CREATE INDEX "health_scores_account_time_idx" ON "health_scores" USING btree ("account_id","computed_at");