DELETE g FROM [dbo].[order_line] AS g WHERE EXISTS (SELECT 1 FROM #bg_stage_1 AS s WHERE g.[order_id] = s.[order_id] AND g.[line_no] = s.[line_no] AND s.[__bg_present] = 0);
