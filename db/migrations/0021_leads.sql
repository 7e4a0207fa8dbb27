CREATE TYPE "public"."lead_status" AS ENUM('qualified', 'accepted', 'declined', 'won', 'lost');--> statement-breakpoint
CREATE TYPE "public"."lead_urgency" AS ENUM('low', 'medium', 'high');--> statement-breakpoint
CREATE TABLE "leads" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"firing_id" bigint,
	"signal_at" timestamp with time zone NOT NULL,
	"wants" text NOT NULL,
	"estimated_mrr_cents" bigint NOT NULL,
	"urgency" "lead_urgency" NOT NULL,
	"status" "lead_status" DEFAULT 'qualified' NOT NULL,
	"created_by" uuid,
	"created_by_label" text NOT NULL,
	"ae_id" uuid,
	"accepted_at" timestamp with time zone,
	"accepted_by" uuid,
	"declined_at" timestamp with time zone,
	"declined_by" uuid,
	"decline_reason" text,
	"won_at" timestamp with time zone,
	"won_opportunity_id" text,
	"won_mrr_cents" bigint,
	"lost_at" timestamp with time zone,
	"lost_by" uuid,
	"lost_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "leads_estimated_mrr_nonnegative" CHECK ("leads"."estimated_mrr_cents" >= 0)
);
--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_firing_id_rule_firings_id_fk" FOREIGN KEY ("firing_id") REFERENCES "public"."rule_firings"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_ae_id_users_id_fk" FOREIGN KEY ("ae_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_accepted_by_users_id_fk" FOREIGN KEY ("accepted_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_declined_by_users_id_fk" FOREIGN KEY ("declined_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "leads" ADD CONSTRAINT "leads_lost_by_users_id_fk" FOREIGN KEY ("lost_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "leads_firing_key" ON "leads" USING btree ("firing_id");--> statement-breakpoint
CREATE UNIQUE INDEX "leads_won_opportunity_key" ON "leads" USING btree ("won_opportunity_id");--> statement-breakpoint
CREATE INDEX "leads_account_idx" ON "leads" USING btree ("account_id","status");--> statement-breakpoint
CREATE INDEX "leads_ae_idx" ON "leads" USING btree ("ae_id","status");