SELECT COUNT(*) FROM CHANGETABLE(CHANGES [dbo].[order_line], ?) AS ct;
