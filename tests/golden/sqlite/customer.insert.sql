INSERT INTO "customer" ("id", "name", "region", "created_at") SELECT s."id", s."name", s."region", s."created_at" FROM "bg_stage_0" AS s WHERE s."__bg_present" = 2;
