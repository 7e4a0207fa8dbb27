CREATE TABLE "slack_send_rate" (
	"scope" text PRIMARY KEY NOT NULL,
	"rate_per_second" double precision NOT NULL,
	"ceiling_per_second" double precision,
	"next_slot_at" timestamp with time zone NOT NULL,
	"paused_until" timestamp with time zone,
	"limited_at" timestamp with time zone,
	"window_started_at" timestamp with time zone,
	"window_sends" integer DEFAULT 0 NOT NULL,
	"previous_window_sends" integer DEFAULT 0 NOT NULL
);
