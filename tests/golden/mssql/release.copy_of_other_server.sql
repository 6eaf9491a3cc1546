CREATE DATABASE [bg]]green "db" ÿ] AS COPY OF [blue-server].[bg]]blue];
