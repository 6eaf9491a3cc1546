DELETE g FROM [dbo].[customer] AS g WHERE EXISTS (SELECT 1 FROM #bg_stage_0 AS s WHERE g.[id] = s.[id] AND s.[__bg_present] = 0) AND g.[id] >= ? AND g.[id] <= ?;
