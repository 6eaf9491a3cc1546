CREATE TABLE #bg_stage_3 ([id] int NULL, [subject] nvarchar(100) COLLATE DATABASE_DEFAULT NULL, [body] varbinary(max) NULL, [__bg_present] SMALLINT NOT NULL);
