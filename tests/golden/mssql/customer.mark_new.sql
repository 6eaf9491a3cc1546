UPDATE s SET [__bg_present] = 2 FROM #bg_stage_0 AS s WHERE s.[__bg_present] = 1 AND NOT EXISTS (SELECT 1 FROM [dbo].[customer] AS g WHERE g.[id] = s.[id]);
