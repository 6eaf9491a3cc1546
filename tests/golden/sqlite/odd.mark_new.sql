UPDATE "bg_stage_4" AS s SET "__bg_present" = 2 WHERE s."__bg_present" = 1 AND NOT EXISTS (SELECT 1 FROM "odd" AS g WHERE g."id" = s."id");
