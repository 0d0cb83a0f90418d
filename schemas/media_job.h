/* Codec of the `data` of a "media.uploaded" message, version 1
 * (schemas/media_job.schema.json is the source of truth): {media_id}. */
#ifndef SC_MEDIA_JOB_H
#define SC_MEDIA_JOB_H

#include <jansson.h>
#include <stddef.h>
#include "error.h"

#define MEDIA_JOB_TYPE "media.uploaded"
#define MEDIA_JOB_VERSION 1

struct media_job {
    char media_id[37]; /* lower case */
};

/* The data object of job in *out (new reference, the caller's). SC_EINVAL
 * when job breaks the schema. */
sc_code media_job_encode(const struct media_job *job, json_t **out);

/* Validates data and fills job. On SC_EINVAL err names the offending field
 * ("data" or "media_id"). Unknown members are ignored. */
sc_code media_job_decode(const json_t *data, struct media_job *job, char *err, size_t errlen);

#endif
