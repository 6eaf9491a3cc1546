UPDATE "bg_stage_3" AS s SET "__bg_present" = 2 WHERE s."__bg_present" = 1 AND NOT EXISTS (SELECT 1 FROM "public"."ticket" AS g WHERE g."id" = s."id");
