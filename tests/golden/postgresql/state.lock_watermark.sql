SELECT position, mapping_fingerprint, schema_fingerprint FROM "bluegreen"."watermark" WHERE stream = %s FOR UPDATE;
