CREATE TEMP TABLE "bg_stage_4" ("id" INTEGER, "we""ird ]col" TEXT, "__bg_present" SMALLINT NOT NULL);
