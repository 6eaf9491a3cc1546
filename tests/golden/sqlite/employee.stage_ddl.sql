CREATE TEMP TABLE "bg_stage_2" ("id" INTEGER, "manager_id" INTEGER, "name" TEXT, "__bg_present" SMALLINT NOT NULL);
