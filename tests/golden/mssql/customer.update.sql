UPDATE g SET [name] = s.[name], [region] = s.[region], [created_at] = s.[created_at] FROM [dbo].[customer] AS g INNER JOIN #bg_stage_0 AS s ON g.[id] = s.[id] WHERE s.[__bg_present] = 1;
