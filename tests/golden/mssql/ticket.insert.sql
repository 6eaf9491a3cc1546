SET IDENTITY_INSERT [dbo].[ticket] ON;
INSERT INTO [dbo].[ticket] ([id], [subject], [body]) SELECT s.[id], s.[subject], s.[body] FROM #bg_stage_3 AS s WHERE s.[__bg_present] = 2;
SET IDENTITY_INSERT [dbo].[ticket] OFF;
