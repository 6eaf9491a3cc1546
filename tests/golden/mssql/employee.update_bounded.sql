UPDATE g SET [manager_id] = s.[manager_id], [name] = s.[name] FROM [dbo].[employee] AS g INNER JOIN #bg_stage_2 AS s ON g.[id] = s.[id] WHERE s.[__bg_present] = 1 AND g.[id] >= ? AND g.[id] <= ?;
