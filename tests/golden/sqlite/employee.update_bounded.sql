UPDATE "employee" AS g SET "manager_id" = s."manager_id", "name" = s."name" FROM "bg_stage_2" AS s WHERE g."id" = s."id" AND s."__bg_present" = 1 AND g."id" >= ? AND g."id" <= ?;
