UPDATE g SET [manager_id] = NULL FROM [dbo].[employee] AS g INNER JOIN #bg_stage_2 AS s ON g.[id] = s.[id] WHERE s.[__bg_present] = 0;
