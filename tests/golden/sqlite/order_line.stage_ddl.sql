CREATE TEMP TABLE "bg_stage_1" ("order_id" INTEGER, "line_no" INTEGER, "customer_id" INTEGER, "amount" NUMERIC(12,2), "__bg_present" SMALLINT NOT NULL);
