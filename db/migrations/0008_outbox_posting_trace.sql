ALTER TABLE "outbox" ADD COLUMN "posting_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "posting_thread_ts" text;