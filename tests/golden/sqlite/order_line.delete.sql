DELETE FROM "order_line" WHERE ("order_id", "line_no") IN (SELECT "order_id", "line_no" FROM "bg_stage_1" WHERE "__bg_present" = 0);
