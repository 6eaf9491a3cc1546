SELECT position, mapping_fingerprint, schema_fingerprint FROM "bluegreen_watermark" WHERE stream = ?;
