CREATE TABLE #bg_stage_1 ([order_id] int NULL, [line_no] int NULL, [customer_id] int NULL, [amount] decimal(12,2) NULL, [__bg_present] SMALLINT NOT NULL);
