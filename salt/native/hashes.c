/* Batch hashing for SALT: BLAKE3 of short inputs (spec/salt.md §4.2 kv_hash) and the AHash
 * "fallback" bucket hasher (§2.2, same arithmetic as salt/hasher.py). Written from the BLAKE3
 * specification (single-chunk inputs only: ≤ 1024 bytes, which covers every 94-byte SaltValue).
 */
#include "banderwagon.h"
#include "salt_internal.h"

#include <string.h>

/* ---------------------------------------------------------------- BLAKE3 (one chunk) */
static const uint32_t B3_IV[8] = {0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
                                  0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u};
static const uint8_t B3_PERM[16] = {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8};
enum { B3_CHUNK_START = 1, B3_CHUNK_END = 2, B3_ROOT = 8 };

static inline uint32_t rotr32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

#define B3_G(a, b, c, d, mx, my)                                                                   \
    do {                                                                                          \
        a = a + b + (mx);                                                                         \
        d = rotr32(d ^ a, 16);                                                                    \
        c = c + d;                                                                                \
        b = rotr32(b ^ c, 12);                                                                    \
        a = a + b + (my);                                                                         \
        d = rotr32(d ^ a, 8);                                                                     \
        c = c + d;                                                                                \
        b = rotr32(b ^ c, 7);                                                                     \
    } while (0)

/* Compression function; writes the new chaining value (first 8 output words) to cv. */
static void b3_compress(uint32_t cv[8], const uint8_t block[64], uint32_t block_len, uint32_t flags) {
    uint32_t m[16], t[16];
    for (int i = 0; i < 16; i++) {
        const uint8_t *p = block + 4 * i;
        m[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    }
    uint32_t s0 = cv[0], s1 = cv[1], s2 = cv[2], s3 = cv[3], s4 = cv[4], s5 = cv[5], s6 = cv[6],
             s7 = cv[7], s8 = B3_IV[0], s9 = B3_IV[1], s10 = B3_IV[2], s11 = B3_IV[3],
             s12 = 0 /* chunk counter lo */, s13 = 0, s14 = block_len, s15 = flags;
    for (int r = 0; r < 7; r++) {
        B3_G(s0, s4, s8, s12, m[0], m[1]);
        B3_G(s1, s5, s9, s13, m[2], m[3]);
        B3_G(s2, s6, s10, s14, m[4], m[5]);
        B3_G(s3, s7, s11, s15, m[6], m[7]);
        B3_G(s0, s5, s10, s15, m[8], m[9]);
        B3_G(s1, s6, s11, s12, m[10], m[11]);
        B3_G(s2, s7, s8, s13, m[12], m[13]);
        B3_G(s3, s4, s9, s14, m[14], m[15]);
        if (r < 6) {
            for (int i = 0; i < 16; i++) t[i] = m[B3_PERM[i]];
            memcpy(m, t, sizeof m);
        }
    }
    cv[0] = s0 ^ s8;
    cv[1] = s1 ^ s9;
    cv[2] = s2 ^ s10;
    cv[3] = s3 ^ s11;
    cv[4] = s4 ^ s12;
    cv[5] = s5 ^ s13;
    cv[6] = s6 ^ s14;
    cv[7] = s7 ^ s15;
}

void salt_blake3_small(const uint8_t *in, size_t len, uint8_t out[32]) {
    uint32_t cv[8];
    memcpy(cv, B3_IV, sizeof cv);
    size_t off = 0;
    uint32_t flags = B3_CHUNK_START;
    while (len - off > 64) {
        b3_compress(cv, in + off, 64, flags);
        flags = 0;
        off += 64;
    }
    uint8_t last[64] = {0};
    memcpy(last, in + off, len - off);
    b3_compress(cv, last, (uint32_t)(len - off), flags | B3_CHUNK_END | B3_ROOT);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)cv[i];
        out[4 * i + 1] = (uint8_t)(cv[i] >> 8);
        out[4 * i + 2] = (uint8_t)(cv[i] >> 16);
        out[4 * i + 3] = (uint8_t)(cv[i] >> 24);
    }
}

int salt_blake3_many(const uint8_t *data, const uint32_t *lens, size_t n, uint8_t *out32) {
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > 1024) return SALT_EINDEX;
        salt_blake3_small(data + off, lens[i], out32 + 32 * i);
        off += lens[i];
    }
    return 0;
}

/* ---------------------------------------------------------------- AHash fallback (§2.2) */
static const uint64_t AH_K0 = 0x921321F4ull ^ 0x452821E638D01377ull;
static const uint64_t AH_K1 = 0x2CCB667Eull ^ 0xBE5466CF34E90C6Cull;
static const uint64_t AH_K2 = 0x60D68842ull ^ 0xC0AC29B7C97C50DDull;
static const uint64_t AH_K3 = 0x077ADA9Dull ^ 0x3F84D5B5B5470917ull;
static const uint64_t AH_MULTIPLE = 6364136223846793005ull;

static inline uint64_t fold_mul(uint64_t a, uint64_t b) {
    unsigned __int128 p = (unsigned __int128)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

static inline uint64_t rotl64(uint64_t x, unsigned r) { return r ? (x << r) | (x >> (64 - r)) : x; }

static inline uint64_t ld64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t ld32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t ah_update(uint64_t buf, uint64_t pad, uint64_t lo, uint64_t hi) {
    return rotl64((buf + pad) ^ fold_mul(lo ^ AH_K2, hi ^ AH_K3), 23);
}

/* AHash of data ‖ suffix (suffix_len ≤ 8), as salt/hasher.py `ahash`. */
static uint64_t ahash_suffixed(const uint8_t *data, size_t n0, const uint8_t *suffix, size_t suffix_len) {
    uint8_t tmp[1024 + 8];
    const uint8_t *d = data;
    size_t n = n0 + suffix_len;
    if (suffix_len) {
        memcpy(tmp, data, n0);
        memcpy(tmp + n0, suffix, suffix_len);
        d = tmp;
    }
    uint64_t buf = (AH_K1 + (uint64_t)n) * AH_MULTIPLE, pad = AH_K0;
    if (n > 16) {
        buf = ah_update(buf, pad, ld64(d + n - 16), ld64(d + n - 8));
        for (size_t k = 0; k < (n - 1) >> 4; k++) buf = ah_update(buf, pad, ld64(d + 16 * k), ld64(d + 16 * k + 8));
    } else if (n > 8) {
        buf = ah_update(buf, pad, ld64(d), ld64(d + n - 8));
    } else if (n >= 4) {
        buf = ah_update(buf, pad, ld32(d), ld32(d + n - 4));
    } else if (n >= 2) {
        buf = ah_update(buf, pad, (uint64_t)d[0] | (uint64_t)d[1] << 8, d[n - 1]);
    } else if (n == 1) {
        buf = ah_update(buf, pad, d[0], d[0]);
    } else {
        buf = ah_update(buf, pad, 0, 0);
    }
    return rotl64(fold_mul(buf, pad), (unsigned)(buf & 63));
}

uint64_t salt_hash_with_nonce(const uint8_t *key, size_t len, uint32_t nonce) {
    const uint8_t suffix[4] = {(uint8_t)nonce, (uint8_t)(nonce >> 8), (uint8_t)(nonce >> 16),
                               (uint8_t)(nonce >> 24)};
    return ahash_suffixed(key, len, suffix, 4);
}

int salt_ahash_many(const uint8_t *data, const uint32_t *lens, size_t n, int64_t nonce, uint64_t *out) {
    uint8_t suffix[4];
    size_t slen = 0;
    if (nonce >= 0) {
        for (int i = 0; i < 4; i++) suffix[i] = (uint8_t)((uint64_t)nonce >> (8 * i));
        slen = 4;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] > 1024) return SALT_EINDEX;
        out[i] = ahash_suffixed(data + off, lens[i], suffix, slen);
        off += lens[i];
    }
    return 0;
}
