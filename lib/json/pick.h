/* SPDX-License-Identifier: MIT */
/*
 * A response body read as JSON for a few JSON Pointers: the whole text is
 * checked (strict RFC 8259, as json.h reads it), but a tree is built only
 * for what the pointers reach. Checks and captures ask for one or two
 * values of a body that may hold thousands; building all of it as cJSON
 * cost more than the request itself.
 */
#ifndef CORUN_JSON_PICK_H
#define CORUN_JSON_PICK_H

#include <cjson/cJSON.h>
#include <stddef.h>

/*
 * Parses text (len bytes) and returns a document in which
 * corun__pointer_get() finds, for each of the n pointers, what it would
 * find in the whole document: the targets with everything below them, the
 * objects and arrays on the way to them (an array keeps nulls in place of
 * the elements before a target), nothing else. A pointer "" or n == 0
 * builds the whole document. NULL when the text is not JSON (*why, if
 * given, then says where, in a static buffer of the caller: why_len bytes)
 * or memory ran out.
 */
cJSON *corun__json_pick(const char *text, size_t len,
                        const char *const *pointers, size_t n, char *why,
                        size_t why_len);

#endif
