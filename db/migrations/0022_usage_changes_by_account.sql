-- The kept usage windows are aggregated anew on the next recompute: the changes recorded by day name no account.
DELETE FROM "usage_changes";--> statement-breakpoint
DELETE FROM "usage_window_state";--> statement-breakpoint
DROP INDEX "usage_changes_day_idx";--> statement-breakpoint
ALTER TABLE "usage_changes" ADD COLUMN "account_id" uuid NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_changes" ADD COLUMN "first_day" date NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_changes" ADD COLUMN "last_day" date NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_changes" DROP COLUMN "day";--> statement-breakpoint
ALTER TABLE "usage_window_state" DROP COLUMN "changes";--> statement-breakpoint
-- Every statement that writes usage_daily records, per account, the first and last day it wrote, whoever runs it:
-- the next recompute aggregates the usage windows of those accounts anew, and keeps the others'.
CREATE OR REPLACE FUNCTION "usage_daily_written"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "usage_changes" ("account_id", "first_day", "last_day")
	SELECT "account_id", min("day"), max("day") FROM "written_rows" GROUP BY "account_id";
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION "usage_daily_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "usage_changes" ("account_id", "first_day", "last_day")
	SELECT "account_id", min("day"), max("day")
	FROM (SELECT "account_id", "day" FROM "rows_before" UNION ALL SELECT "account_id", "day" FROM "rows_after") w
	GROUP BY "account_id";
	RETURN NULL;
END $$;
