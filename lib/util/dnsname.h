/* SPDX-License-Identifier: MIT */
/*
 * Host names that are answered without asking DNS. RFC 6761: names under
 * .invalid never resolve, and resolver libraries should say so at once;
 * answering here keeps such a lookup off the network (and off a slow or
 * absent DNS server), for every kind that looks a name up.
 */
#ifndef CORUN_DNSNAME_H
#define CORUN_DNSNAME_H

#include <stddef.h>

/* Whether host (n bytes; a trailing dot allowed) is .invalid or under it. */
int corun__name_never_resolves(const char *host, size_t n);

#endif
