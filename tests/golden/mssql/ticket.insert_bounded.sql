SET IDENTITY_INSERT [dbo].[ticket] ON;
INSERT INTO [dbo].[ticket] ([id], [subject], [body]) SELECT s.[id], s.[subject], s.[body] FROM #bg_stage_3 AS s WHERE s.[__bg_present] = 1 AND NOT EXISTS (SELECT 1 FROM [dbo].[ticket] AS g WHERE g.[id] = s.[id] AND g.[id] >= ? AND g.[id] <= ?);
SET IDENTITY_INSERT [dbo].[ticket] OFF;
