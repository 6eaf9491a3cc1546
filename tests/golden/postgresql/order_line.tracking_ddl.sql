CREATE TABLE "bluegreen"."ct_log_2" (seq bigint GENERATED ALWAYS AS IDENTITY, txid xid8 NOT NULL DEFAULT pg_current_xact_id(), op char(1) NOT NULL, k0 integer, k1 integer);
CREATE INDEX ON "bluegreen"."ct_log_2" (txid);
CREATE FUNCTION "bluegreen"."ct_capture_2"() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $bg$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO "bluegreen"."ct_log_2" (op, k0, k1) SELECT 'I', n."order_id", n."line_no" FROM bg_new AS n;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO "bluegreen"."ct_log_2" (op, k0, k1) SELECT 'D', o."order_id", o."line_no" FROM bg_old AS o;
  ELSE
    -- a key that left is a delete, one that arrived an insert (a PK change: both)
    INSERT INTO "bluegreen"."ct_log_2" (op, k0, k1)
    SELECT 'D', o."order_id", o."line_no" FROM bg_old AS o
      WHERE NOT EXISTS (SELECT 1 FROM bg_new AS n WHERE n."order_id" = o."order_id" AND n."line_no" = o."line_no")
    UNION ALL
    SELECT CASE WHEN EXISTS (SELECT 1 FROM bg_old AS o WHERE n."order_id" = o."order_id" AND n."line_no" = o."line_no") THEN 'U' ELSE 'I' END, n."order_id", n."line_no" FROM bg_new AS n;
  END IF;
  RETURN NULL;
END
$bg$;
CREATE TRIGGER "bluegreen_ct_ins" AFTER INSERT ON "public"."order_line" REFERENCING NEW TABLE AS bg_new FOR EACH STATEMENT EXECUTE FUNCTION "bluegreen"."ct_capture_2"();
CREATE TRIGGER "bluegreen_ct_upd" AFTER UPDATE ON "public"."order_line" REFERENCING OLD TABLE AS bg_old NEW TABLE AS bg_new FOR EACH STATEMENT EXECUTE FUNCTION "bluegreen"."ct_capture_2"();
CREATE TRIGGER "bluegreen_ct_del" AFTER DELETE ON "public"."order_line" REFERENCING OLD TABLE AS bg_old FOR EACH STATEMENT EXECUTE FUNCTION "bluegreen"."ct_capture_2"();
CREATE TRIGGER "bluegreen_ct_trunc" AFTER TRUNCATE ON "public"."order_line" FOR EACH STATEMENT EXECUTE FUNCTION "bluegreen"."ct_truncated"('2');
