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
--> statement-breakpoint
CREATE TABLE "health_signals" (
	"account_id" uuid PRIMARY KEY NOT NULL,
	"model" bigint NOT NULL,
	"valid_from" timestamp with time zone NOT NULL,
	"valid_until" timestamp with time zone,
	"ticket_rows" bigint NOT NULL,
	"open_count" bigint NOT NULL,
	"urgent_count" bigint NOT NULL,
	"high_count" bigint NOT NULL,
	"open_first" timestamp with time zone,
	"urgent_first" timestamp with time zone,
	"high_first" timestamp with time zone,
	"penalty_full" double precision NOT NULL,
	"penalty_young" double precision NOT NULL,
	"penalty_young_epoch" numeric NOT NULL,
	"nps_responses" bigint NOT NULL,
	"nps_worst" double precision,
	"nps_worst_key" double precision,
	"nps_weighted" double precision,
	"nps_weight" double precision,
	"nps_worst_said" text,
	"touch_last" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "signal_changes" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "signal_changes_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE INDEX "tickets_account_idx" ON "tickets" USING btree ("account_id","opened_at");--> statement-breakpoint
-- Every statement that writes tickets, survey answers or CSM touches records the accounts it wrote, whoever runs it:
-- the next recompute aggregates those accounts' signals anew, and keeps the others'.
CREATE FUNCTION "health_signals_written"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "signal_changes" ("account_id") SELECT DISTINCT "account_id" FROM "written_rows";
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "health_signals_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "signal_changes" ("account_id")
	SELECT "account_id" FROM "rows_before" UNION SELECT "account_id" FROM "rows_after";
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "health_signals_truncated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM "health_signals";
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "tickets_inserted" AFTER INSERT ON "tickets"
	REFERENCING NEW TABLE AS "written_rows" FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_written"();
--> statement-breakpoint
CREATE TRIGGER "tickets_updated" AFTER UPDATE ON "tickets"
	REFERENCING OLD TABLE AS "rows_before" NEW TABLE AS "rows_after" FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_updated"();
--> statement-breakpoint
CREATE TRIGGER "tickets_deleted" AFTER DELETE ON "tickets"
	REFERENCING OLD TABLE AS "written_rows" FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_written"();
--> statement-breakpoint
CREATE TRIGGER "tickets_truncated" AFTER TRUNCATE ON "tickets"
	FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_truncated"();
--> statement-breakpoint
CREATE TRIGGER "survey_responses_inserted" AFTER INSERT ON "survey_responses"
	REFERENCING NEW TABLE AS "written_rows" FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_written"();
--> statement-breakpoint
CREATE TRIGGER "survey_responses_updated" AFTER UPDATE ON "survey_responses"
	REFERENCING OLD TABLE AS "rows_before" NEW TABLE AS "rows_after" FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_updated"();
--> statement-breakpoint
CREATE TRIGGER "survey_responses_deleted" AFTER DELETE ON "survey_responses"
	REFERENCING OLD TABLE AS "written_rows" FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_written"();
--> statement-breakpoint
CREATE TRIGGER "survey_responses_truncated" AFTER TRUNCATE ON "survey_responses"
	FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_truncated"();
--> statement-breakpoint
CREATE TRIGGER "csm_touches_inserted" AFTER INSERT ON "csm_touches"
	REFERENCING NEW TABLE AS "written_rows" FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_written"();
--> statement-breakpoint
CREATE TRIGGER "csm_touches_updated" AFTER UPDATE ON "csm_touches"
	REFERENCING OLD TABLE AS "rows_before" NEW TABLE AS "rows_after" FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_updated"();
--> statement-breakpoint
CREATE TRIGGER "csm_touches_deleted" AFTER DELETE ON "csm_touches"
	REFERENCING OLD TABLE AS "written_rows" FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_written"();
--> statement-breakpoint
CREATE TRIGGER "csm_touches_truncated" AFTER TRUNCATE ON "csm_touches"
	FOR EACH STATEMENT EXECUTE FUNCTION "health_signals_truncated"();
--> statement-breakpoint
-- The kept usage windows are aggregated anew on the next recompute, with the day of their most seats.
DELETE FROM "usage_window_state";--> statement-breakpoint
DELETE FROM "usage_windows";--> statement-breakpoint
ALTER TABLE "usage_windows" ADD COLUMN "seats_day" date NOT NULL;
