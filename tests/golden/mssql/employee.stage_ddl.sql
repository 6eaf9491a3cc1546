CREATE TABLE #bg_stage_2 ([id] int NULL, [manager_id] int NULL, [name] nvarchar(100) COLLATE DATABASE_DEFAULT NULL, [__bg_present] SMALLINT NOT NULL);
