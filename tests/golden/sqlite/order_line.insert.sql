INSERT INTO "order_line" ("order_id", "line_no", "customer_id", "amount") SELECT s."order_id", s."line_no", s."customer_id", s."amount" FROM "bg_stage_1" AS s WHERE s."__bg_present" = 2;
