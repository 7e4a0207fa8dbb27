CREATE TABLE "at_risk_follow_ups" (
	"account_id" uuid PRIMARY KEY NOT NULL,
	"first_listed_on" date NOT NULL,
	"last_listed_on" date NOT NULL,
	"acknowledged_at" timestamp with time zone,
	"acknowledged_by" uuid,
	"snoozed_until" timestamp with time zone,
	"escalated_on" date
);
--> statement-breakpoint
CREATE TABLE "slack_events" (
	"event_id" text PRIMARY KEY NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "at_risk_follow_ups" ADD CONSTRAINT "at_risk_follow_ups_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "at_risk_follow_ups" ADD CONSTRAINT "at_risk_follow_ups_acknowledged_by_users_id_fk" FOREIGN KEY ("acknowledged_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;