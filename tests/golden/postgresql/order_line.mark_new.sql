UPDATE "bg_stage_1" AS s SET "__bg_present" = 2 WHERE s."__bg_present" = 1 AND NOT EXISTS (SELECT 1 FROM "public"."order_line" AS g WHERE g."order_id" = s."order_id" AND g."line_no" = s."line_no");
