CREATE TEMPORARY TABLE "bg_stage_0" ("id" integer, "name" text, "region" text, "created_at" timestamp without time zone, "__bg_present" SMALLINT NOT NULL);
