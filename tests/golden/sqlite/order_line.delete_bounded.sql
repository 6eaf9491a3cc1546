DELETE FROM "order_line" AS g WHERE ("order_id", "line_no") IN (SELECT "order_id", "line_no" FROM "bg_stage_1" WHERE "__bg_present" = 0) AND g."order_id" >= ? AND g."order_id" <= ?;
