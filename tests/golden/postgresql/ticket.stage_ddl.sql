CREATE TEMPORARY TABLE "bg_stage_3" ("id" integer, "subject" text, "body" bytea, "__bg_present" SMALLINT NOT NULL);
