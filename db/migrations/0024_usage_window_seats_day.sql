-- The kept usage windows are aggregated anew on the next recompute, with the day of their most seats.
DELETE FROM "usage_window_state";--> statement-breakpoint
DELETE FROM "usage_windows";--> statement-breakpoint
ALTER TABLE "usage_windows" ADD COLUMN "seats_day" date NOT NULL;
