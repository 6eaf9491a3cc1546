CREATE TEMP TABLE "bg_stage_3" ("id" INTEGER, "subject" TEXT, "body" BLOB, "__bg_present" SMALLINT NOT NULL);
