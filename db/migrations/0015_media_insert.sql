-- An asset's variants rendered without planning a query when there are none
-- (issue 3, upload acceptance). media_variants_json aggregates over
-- jsonb_each, so Postgres cannot inline it: every statement that renders an
-- asset (media_json, media_status_json) parsed and planned its body again,
-- ~0.07 ms of CPU per call, twice in the INSERT ... RETURNING of each upload,
-- whose row has no variants yet. Now it is a CASE Postgres inlines, and only
-- an asset that has variants runs the aggregate (its body unchanged from 0010).

CREATE FUNCTION media_variants_agg(variants jsonb, public_base text) RETURNS json
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(json_object_agg(e.name, json_build_object('url', media_key_url(e.v ->> 'key',
                                                                                   public_base),
                                                             'width', e.v -> 'width',
                                                             'height', e.v -> 'height')
                                    ORDER BY e.name), '{}'::json)
    FROM jsonb_each(variants) AS e(name, v)
$$;

CREATE OR REPLACE FUNCTION media_variants_json(variants jsonb, public_base text) RETURNS json
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN variants = '{}'::jsonb THEN '{}'::json
                ELSE media_variants_agg(variants, public_base) END
$$;
