/* UUID text syntax, shared by every place that takes an id from outside
 * (path parameters, message fields) so they all accept the same forms. */
#ifndef SC_UUID_H
#define SC_UUID_H

/* 1 when s is 8-4-4-4-12 hex digits (either case) and nothing else; s may be NULL. */
int uuid_valid(const char *s);

#endif
