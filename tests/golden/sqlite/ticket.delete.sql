DELETE FROM "ticket" WHERE "id" IN (SELECT "id" FROM "bg_stage_3" WHERE "__bg_present" = 0);
