/* media.uploaded v1 codec: checks exactly what schemas/media_job.schema.json
 * states. */
#include "media_job.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "uuid.h"

static sc_code fail(char *err, size_t errlen, const char *field, const char *why)
{
    if (err && errlen) {
        snprintf(err, errlen, "%s: %s", field, why);
    }
    return SC_EINVAL;
}

sc_code media_job_encode(const struct media_job *job, json_t **out)
{
    *out = NULL;
    if (!uuid_valid(job->media_id)) {
        return SC_EINVAL;
    }
    *out = json_pack("{s:s}", "media_id", job->media_id);
    return *out ? SC_OK : SC_ENOMEM;
}

sc_code media_job_decode(const json_t *data, struct media_job *job, char *err, size_t errlen)
{
    memset(job, 0, sizeof(*job));
    if (!json_is_object(data)) {
        return fail(err, errlen, "data", "must be an object");
    }
    const char *id = json_string_value(json_object_get(data, "media_id"));
    if (!uuid_valid(id)) {
        return fail(err, errlen, "media_id", "must be a UUID string");
    }
    for (size_t i = 0; i < 36; i++) {
        job->media_id[i] = (char)tolower((unsigned char)id[i]);
    }
    return SC_OK;
}
