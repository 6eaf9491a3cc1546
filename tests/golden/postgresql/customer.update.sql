UPDATE "public"."customer" AS g SET "name" = s."name", "region" = s."region", "created_at" = s."created_at" FROM "bg_stage_0" AS s WHERE g."id" = s."id" AND s."__bg_present" = 1;
