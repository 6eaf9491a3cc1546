UPDATE g SET [we"ird ]]col] = s.[we"ird ]]col] FROM [dbo].[odd] AS g INNER JOIN #bg_stage_4 AS s ON g.[id] = s.[id] WHERE s.[__bg_present] = 1 AND g.[id] >= ? AND g.[id] <= ?;
