DELETE FROM "customer" AS g WHERE "id" IN (SELECT "id" FROM "bg_stage_0" WHERE "__bg_present" = 0) AND g."id" >= ? AND g."id" <= ?;
