CREATE TYPE "public"."slack_email_lookup_status" AS ENUM('pending', 'linked', 'not_found', 'refused', 'failed');--> statement-breakpoint
CREATE TABLE "slack_email_lookups" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"status" "slack_email_lookup_status" DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"slack_user_id" text,
	"last_error" text,
	"checked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "slack_email_lookups" ADD CONSTRAINT "slack_email_lookups_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "slack_email_lookups_due_idx" ON "slack_email_lookups" USING btree ("next_attempt_at") WHERE "slack_email_lookups"."status" = 'pending';