ALTER TABLE "signal_changes" DROP COLUMN "id";--> statement-breakpoint
ALTER TABLE "usage_changes" DROP COLUMN "id";