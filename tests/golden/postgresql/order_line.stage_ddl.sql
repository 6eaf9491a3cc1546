CREATE TEMPORARY TABLE "bg_stage_1" ("order_id" integer, "line_no" integer, "customer_id" integer, "amount" numeric(12,2), "__bg_present" SMALLINT NOT NULL);
