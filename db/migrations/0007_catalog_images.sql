-- Product images and banners through the upload pipeline (issue 4, seed 003
-- §6 and §9). A picture's row (product_images, banners) is its catalog
-- record; its media_assets row (purpose 'product_image' or 'banner',
-- subject_id = the picture's id) is what the media worker processes. The
-- worker moves the picture's status on in the same transaction as the asset's.

-- The worker and the delete routes find a picture's asset by its subject.
CREATE INDEX media_assets_subject_idx ON media_assets (subject_id, purpose)
    WHERE subject_id IS NOT NULL;

-- A product image as its own routes answer it: seed 003's four fields plus
-- the processing status ('processing', 'ready' or 'failed').
CREATE FUNCTION product_image_record_json(i product_images) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', i.id, 'product_id', i.product_id, 'image_url', i.image_url,
                             'is_primary', i.is_primary, 'status', i.status)
$$;

-- A banner (seed 003 §9) plus its processing status.
CREATE FUNCTION banner_json(b banners) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT json_build_object('id', b.id, 'title', b.title, 'image_url', b.image_url,
                             'target_url', b.target_url, 'is_active', b.is_active,
                             'status', b.status, 'created_at', rfc3339(b.created_at))
$$;

-- Every R2 key of a picture: its own full-size key and every key of its
-- asset (staging, full size, variants), whether or not the worker is done.
CREATE FUNCTION catalog_picture_keys(purpose text, subject uuid, own_key text) RETURNS json
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(json_agg(DISTINCT k ORDER BY k), '[]'::json)
    FROM (SELECT $3
          UNION ALL
          SELECT json_array_elements_text(media_object_keys(m)) FROM media_assets m
          WHERE m.purpose = $1 AND m.subject_id = $2) AS s(k)
    WHERE k IS NOT NULL
$$;
