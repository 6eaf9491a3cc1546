DELETE FROM "customer" WHERE "id" IN (SELECT "id" FROM "bg_stage_0" WHERE "__bg_present" = 0);
