UPDATE "public"."odd" AS g SET "we""ird ]col" = s."we""ird ]col" FROM "bg_stage_4" AS s WHERE g."id" = s."id" AND s."__bg_present" = 1 AND g."id" >= %s AND g."id" <= %s;
