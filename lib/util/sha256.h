/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 (FIPS 180-4), streaming: for a fetch's sha256 check, over the
 * decoded body as it arrives, so a saved body of any size is never read
 * back. Small enough that a crypto library would be a heavier dependency
 * than the code.
 */
#ifndef CORUN_SHA256_H
#define CORUN_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct corun_sha256 {
  uint32_t h[8];
  uint64_t bytes;
  unsigned char block[64];
  size_t fill;
};

void corun__sha256_init(struct corun_sha256 *s);
void corun__sha256_add(struct corun_sha256 *s, const void *data, size_t n);
/* The digest as 64 lowercase hex digits and a NUL. */
void corun__sha256_hex(struct corun_sha256 *s, char hex[65]);

#endif
