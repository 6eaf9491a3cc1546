DELETE FROM "employee" AS g WHERE "id" IN (SELECT "id" FROM "bg_stage_2" WHERE "__bg_present" = 0) AND g."id" >= ? AND g."id" <= ?;
