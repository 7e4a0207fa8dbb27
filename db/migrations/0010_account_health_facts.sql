ALTER TABLE "account_health" ADD COLUMN "facts" bigint[];--> statement-breakpoint
ALTER TABLE "account_health" ADD COLUMN "score_day_ago_from" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "account_health" ADD COLUMN "score_day_ago_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "account_health" ADD COLUMN "score_week_ago_from" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "account_health" ADD COLUMN "score_week_ago_until" timestamp with time zone;