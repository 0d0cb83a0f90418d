-- White space around a search query is trimmed whatever it is, as spaces
-- already were. Before, btrim took off spaces only, and then every white-space
-- run became one space, so a tab (or a no-break space, which `\s` does not
-- match) before or after a word left a leading or trailing space: an empty
-- first or last word. 0012's candidates for it are nearly every word pair of
-- the catalog; with 100,000 products `query=%09a` or `query=a%09` cost
-- 1.2-1.5 s of Postgres per request, and each new letter missed the cache.
-- Now the text is normalised first, every run of white space (no-break
-- spaces included) becomes one space, and the ends are trimmed.
CREATE OR REPLACE FUNCTION f_search_query(query text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT nullif(btrim(regexp_replace(f_search_norm(query), '[\s\u00a0\u2007\u202f]+', ' ', 'g')), '')
$$;
