CREATE INDEX "accounts_renewal_order_idx" ON "accounts" USING btree ((coalesce("contract_end" - date '2000-01-01', 1000000)::float8),"id");--> statement-breakpoint
CREATE INDEX "accounts_arr_order_idx" ON "accounts" USING btree (((-"arr_cents")::float8),"id");--> statement-breakpoint
CREATE INDEX "accounts_stage_time_order_idx" ON "accounts" USING btree ((floor(extract(epoch from ("stage_entered_at" - timestamptz '1970-01-01 00:00:00+00')) * 1000)::float8),"id");--> statement-breakpoint
CREATE INDEX "account_health_health_order_idx" ON "account_health" USING btree ((coalesce("score", 1000)::float8),"account_id");--> statement-breakpoint
CREATE INDEX "account_health_status_health_order_idx" ON "account_health" USING btree ("status",(coalesce("score", 1000)::float8),"account_id");--> statement-breakpoint
CREATE INDEX "account_health_drop_order_idx" ON "account_health" USING btree (((-coalesce("score_week_ago" - "score", -1000))::float8),"account_id");--> statement-breakpoint
CREATE INDEX "account_health_status_drop_order_idx" ON "account_health" USING btree ("status",((-coalesce("score_week_ago" - "score", -1000))::float8),"account_id");