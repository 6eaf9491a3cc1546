DELETE FROM "employee" WHERE "id" IN (SELECT "id" FROM "bg_stage_2" WHERE "__bg_present" = 0);
