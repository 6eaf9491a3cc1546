DELETE FROM "odd" WHERE "id" IN (SELECT "id" FROM "bg_stage_4" WHERE "__bg_present" = 0);
