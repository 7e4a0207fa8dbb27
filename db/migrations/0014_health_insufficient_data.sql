ALTER TYPE "public"."health_status" ADD VALUE 'insufficient_data';--> statement-breakpoint
ALTER TABLE "account_health" ALTER COLUMN "score" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "health_scores" ALTER COLUMN "score" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "account_health" ADD CONSTRAINT "account_health_score_unless_insufficient_data" CHECK (("account_health"."score" is null) = ("account_health"."status"::text = 'insufficient_data'));--> statement-breakpoint
ALTER TABLE "health_scores" ADD CONSTRAINT "health_scores_score_unless_insufficient_data" CHECK (("health_scores"."score" is null) = ("health_scores"."status"::text = 'insufficient_data'));