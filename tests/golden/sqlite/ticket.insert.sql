INSERT INTO "ticket" ("id", "subject", "body") SELECT s."id", s."subject", s."body" FROM "bg_stage_3" AS s WHERE s."__bg_present" = 2;
