/* SPDX-License-Identifier: MIT */
/*
 * The UTF-8 byte order mark some editors put at the start of a file: no
 * part of its content, and invisible when the file is shown.
 */
#ifndef CORUN_BOM_H
#define CORUN_BOM_H

#include <stddef.h>
#include <string.h>

#define CORUN_BOM "\xef\xbb\xbf"
#define CORUN_BOM_LEN 3

/* The length of the BOM text starts with (len bytes of it): 3 or 0. */
static inline size_t corun_bom_len(const char *text, size_t len)
{
  return len >= CORUN_BOM_LEN && memcmp(text, CORUN_BOM, CORUN_BOM_LEN) == 0
             ? CORUN_BOM_LEN
             : 0;
}

#endif
