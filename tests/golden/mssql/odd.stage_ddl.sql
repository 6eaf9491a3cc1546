CREATE TABLE #bg_stage_4 ([id] int NULL, [we"ird ]]col] nvarchar(100) COLLATE DATABASE_DEFAULT NULL, [__bg_present] SMALLINT NOT NULL);
