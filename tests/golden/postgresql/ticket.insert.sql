INSERT INTO "public"."ticket" ("id", "subject", "body") OVERRIDING SYSTEM VALUE SELECT s."id", s."subject", s."body" FROM "bg_stage_3" AS s WHERE s."__bg_present" = 2;
