ALTER TABLE "account_health" ALTER COLUMN "reasons" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "health_scores" ALTER COLUMN "components" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "health_scores" ALTER COLUMN "reasons" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "account_health" ADD COLUMN "stage_name" text;--> statement-breakpoint
ALTER TABLE "account_health" ADD COLUMN "nps_worst_said" text;--> statement-breakpoint
ALTER TABLE "health_scores" ADD COLUMN "facts" bigint[];--> statement-breakpoint
ALTER TABLE "health_scores" ADD COLUMN "stage_name" text;--> statement-breakpoint
ALTER TABLE "health_scores" ADD COLUMN "nps_worst_said" text;