UPDATE "public"."ticket" AS g SET "subject" = s."subject", "body" = s."body" FROM "bg_stage_3" AS s WHERE g."id" = s."id" AND s."__bg_present" = 1 AND g."id" >= %s AND g."id" <= %s;
