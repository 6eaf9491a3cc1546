DELETE FROM "odd" AS g WHERE "id" IN (SELECT "id" FROM "bg_stage_4" WHERE "__bg_present" = 0) AND g."id" >= ? AND g."id" <= ?;
