/* The one SHA-256 helper: OpenSSL's digest as lowercase hex. Used for the
 * file's hash, user data, SigV4 and long ClientTokens. */
#ifndef NESTPLAN_SHA256_H
#define NESTPLAN_SHA256_H

#include <stddef.h>

void np_sha256_hex(const void *data, size_t len, char out[65]);

#endif
