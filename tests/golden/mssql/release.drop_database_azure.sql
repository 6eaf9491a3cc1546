DROP DATABASE [bg_green];
