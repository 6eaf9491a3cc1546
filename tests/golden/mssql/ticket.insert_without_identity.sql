INSERT INTO [dbo].[ticket] ([subject], [body]) SELECT s.[subject], s.[body] FROM #bg_stage_3 AS s WHERE s.[__bg_present] = 2;
