CREATE TEMPORARY TABLE "bg_stage_4" ("id" integer, "we""ird ]col" text, "__bg_present" SMALLINT NOT NULL);
