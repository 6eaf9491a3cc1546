CREATE TEMPORARY TABLE "bg_stage_2" ("id" integer, "manager_id" integer, "name" text, "__bg_present" SMALLINT NOT NULL);
