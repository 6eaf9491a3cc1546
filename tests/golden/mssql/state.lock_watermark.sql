SELECT position, mapping_fingerprint, schema_fingerprint FROM [bluegreen].[watermark] WITH (UPDLOCK, HOLDLOCK) WHERE stream = ?;
