ALTER TABLE "slack_send_rate" ADD COLUMN "recent_slots" bigint[] DEFAULT '{}'::bigint[] NOT NULL;--> statement-breakpoint
ALTER TABLE "slack_send_rate" DROP COLUMN "window_started_at";--> statement-breakpoint
ALTER TABLE "slack_send_rate" DROP COLUMN "window_sends";--> statement-breakpoint
ALTER TABLE "slack_send_rate" DROP COLUMN "previous_window_sends";