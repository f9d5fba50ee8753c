/* SPDX-License-Identifier: MIT */
/* Host names answered without asking DNS (dnsname.h). */
#include "util/dnsname.h"

#include <strings.h>

int corun__name_never_resolves(const char *host, size_t n)
{
  if (n && host[n - 1] == '.')
    n--;
  return (n == 7 && strncasecmp(host, "invalid", 7) == 0) ||
         (n > 8 && strncasecmp(host + n - 8, ".invalid", 8) == 0);
}
