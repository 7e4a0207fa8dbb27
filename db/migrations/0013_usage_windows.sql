CREATE TABLE "usage_changes" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "usage_changes_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"day" date NOT NULL
);
--> statement-breakpoint
CREATE TABLE "usage_window_state" (
	"id" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"generation" bigint NOT NULL,
	"as_of" date NOT NULL,
	"changes" bigint NOT NULL,
	"model" bigint NOT NULL,
	CONSTRAINT "usage_window_state_single_row" CHECK ("usage_window_state"."id")
);
--> statement-breakpoint
CREATE TABLE "usage_windows" (
	"generation" bigint NOT NULL,
	"account_id" uuid NOT NULL,
	"seats" double precision NOT NULL,
	"sum_recent_users" bigint NOT NULL,
	"recent_days" bigint NOT NULL,
	"sum_prior_users" bigint NOT NULL,
	"prior_days" bigint NOT NULL,
	"sum_recent_key_events" bigint NOT NULL,
	"adoption" double precision NOT NULL,
	"trend" double precision,
	"trend_ratio" double precision,
	"key_events" double precision NOT NULL,
	"usage_score" double precision NOT NULL,
	CONSTRAINT "usage_windows_generation_account_id_pk" PRIMARY KEY("generation","account_id")
);
--> statement-breakpoint
CREATE INDEX "usage_changes_day_idx" ON "usage_changes" USING btree ("day");--> statement-breakpoint
-- Every statement that writes usage_daily records the days it wrote, whoever runs it: the usage windows of a
-- recompute are reused only while the count of changes to their window's days stays the same.
CREATE FUNCTION "usage_daily_written"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "usage_changes" ("day") SELECT DISTINCT "day" FROM "written_rows";
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "usage_daily_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO "usage_changes" ("day")
	SELECT "day" FROM "rows_before" UNION SELECT "day" FROM "rows_after";
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION "usage_daily_truncated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	DELETE FROM "usage_window_state";
	RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER "usage_daily_inserted" AFTER INSERT ON "usage_daily"
	REFERENCING NEW TABLE AS "written_rows" FOR EACH STATEMENT EXECUTE FUNCTION "usage_daily_written"();
--> statement-breakpoint
CREATE TRIGGER "usage_daily_updated" AFTER UPDATE ON "usage_daily"
	REFERENCING OLD TABLE AS "rows_before" NEW TABLE AS "rows_after" FOR EACH STATEMENT EXECUTE FUNCTION "usage_daily_updated"();
--> statement-breakpoint
CREATE TRIGGER "usage_daily_deleted" AFTER DELETE ON "usage_daily"
	REFERENCING OLD TABLE AS "written_rows" FOR EACH STATEMENT EXECUTE FUNCTION "usage_daily_written"();
--> statement-breakpoint
CREATE TRIGGER "usage_daily_truncated" AFTER TRUNCATE ON "usage_daily"
	FOR EACH STATEMENT EXECUTE FUNCTION "usage_daily_truncated"();
