/* Declarations shared between the C files of the SALT backend (not part of the cffi API). */
#ifndef SALT_INTERNAL_H
#define SALT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* BLAKE3 of one input of at most 1024 bytes (a single chunk), 32-byte digest. */
void salt_blake3_small(const uint8_t *in, size_t len, uint8_t out[32]);

/* hash_with_nonce (§2.2): AHash of key ‖ LE32(nonce), key at most 1024 bytes. */
uint64_t salt_hash_with_nonce(const uint8_t *key, size_t len, uint32_t nonce);

#endif
