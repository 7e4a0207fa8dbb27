ALTER TABLE "csm_touches" ADD COLUMN "external_id" text;--> statement-breakpoint
CREATE UNIQUE INDEX "csm_touches_external_idx" ON "csm_touches" USING btree ("external_id");