INSERT INTO [dbo].[ticket] ([subject], [body]) SELECT s.[subject], s.[body] FROM #bg_stage_3 AS s WHERE s.[__bg_present] = 1 AND NOT EXISTS (SELECT 1 FROM [dbo].[ticket] AS g WHERE g.[id] = s.[id]);
