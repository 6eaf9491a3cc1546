INSERT INTO [dbo].[odd] ([id], [we"ird ]]col]) SELECT s.[id], s.[we"ird ]]col] FROM #bg_stage_4 AS s WHERE s.[__bg_present] = 1 AND NOT EXISTS (SELECT 1 FROM [dbo].[odd] AS g WHERE g.[id] = s.[id]);
