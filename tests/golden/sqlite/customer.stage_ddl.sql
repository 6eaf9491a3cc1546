CREATE TEMP TABLE "bg_stage_0" ("id" INTEGER, "name" TEXT, "region" TEXT, "created_at" TIMESTAMP, "__bg_present" SMALLINT NOT NULL);
