/* UUID text syntax, shared by every place that takes an id from outside
 * (path parameters, message fields) so they all accept the same forms. */
#ifndef SC_UUID_H
#define SC_UUID_H

/* 1 when s is 8-4-4-4-12 hex digits (either case) and nothing else; s may be NULL. */
int uuid_valid(const char *s);

/* A name-based UUID (RFC 9562 version 8 from the SHA-256 of name, lower
 * case): equal names give equal ids, so a message id can be derived from
 * what identifies the event (a webhook's order code and reference) and
 * every delivery of it dedupes in processed_messages. */
void uuid_from_name(const char *name, char out[37]);

#endif
