CREATE DATABASE [bg_green] AS COPY OF [bg_blue];
