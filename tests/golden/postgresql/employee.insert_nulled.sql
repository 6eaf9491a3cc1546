INSERT INTO "public"."employee" ("id", "manager_id", "name") SELECT s."id", NULL, s."name" FROM "bg_stage_2" AS s WHERE s."__bg_present" = 2;
