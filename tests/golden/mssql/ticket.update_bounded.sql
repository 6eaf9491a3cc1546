UPDATE g SET [subject] = s.[subject], [body] = s.[body] FROM [dbo].[ticket] AS g INNER JOIN #bg_stage_3 AS s ON g.[id] = s.[id] WHERE s.[__bg_present] = 1 AND g.[id] >= ? AND g.[id] <= ?;
