CREATE TYPE "public"."contact_role" AS ENUM('champion', 'executive_sponsor', 'admin', 'user');--> statement-breakpoint
CREATE TABLE "contacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"name" text NOT NULL,
	"email" text NOT NULL,
	"role" "contact_role" DEFAULT 'user' NOT NULL,
	"left_at" timestamp with time zone,
	"left_marked_by" uuid,
	"left_marked_by_label" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_left_marked_by_users_id_fk" FOREIGN KEY ("left_marked_by") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "contacts_account_email_key" ON "contacts" USING btree ("account_id",lower("email"));--> statement-breakpoint
CREATE INDEX "contacts_left_idx" ON "contacts" USING btree ("account_id","role","left_at");