UPDATE "order_line" AS g SET "customer_id" = s."customer_id", "amount" = s."amount" FROM "bg_stage_1" AS s WHERE g."order_id" = s."order_id" AND g."line_no" = s."line_no" AND s."__bg_present" = 1;
