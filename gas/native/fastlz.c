/* Length of the level-1 FastLZ compression of a buffer, as op-geth's FlzCompressLen computes it
 * (spec/mega-evm.md §9.2); the same steps as gas/l1fee.py's `flz_compress_len_py`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HASH_SIZE 8192
#define MAX_DISTANCE 8191

static inline uint32_t u24(const uint8_t *d, size_t i) {
    return (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16;
}

static inline uint32_t flz_hash(uint32_t v) { return (uint32_t)(2654435769u * v) >> 19; }

static inline uint64_t literals_length(uint64_t count) {
    return 33 * (count / 32) + (count % 32 ? count % 32 + 1 : 0);
}

static inline uint64_t match_length(uint64_t length) {
    uint64_t rest = length - 1;
    return 3 * (rest / 262) + (rest % 262 >= 6 ? 3 : 2);
}

uint64_t flz_compress_len(const uint8_t *data, size_t n) {
    uint32_t table[HASH_SIZE];
    memset(table, 0, sizeof table);
    size_t limit = n >= 13 ? n - 13 : 0;
    uint64_t size = 0;
    size_t anchor = 0, ip = 2, ref = 0;
    while (ip < limit) {
        for (;;) { /* find a 3-byte match within the window */
            uint32_t seq = u24(data, ip), h = flz_hash(seq);
            ref = table[h];
            table[h] = (uint32_t)ip;
            if (ip >= limit) break;
            ip += 1;
            if (ip - 1 - ref <= MAX_DISTANCE && u24(data, ref) == seq) break;
        }
        if (ip >= limit) break;
        ip -= 1;
        if (ip > anchor) size += literals_length(ip - anchor);
        size_t length = 0, bound = limit + 9 - (ip + 3);
        while (length < bound) {
            length += 1;
            if (data[ref + 3 + length - 1] != data[ip + 3 + length - 1]) break;
        }
        size += match_length(length);
        table[flz_hash(u24(data, ip + length))] = (uint32_t)(ip + length);
        table[flz_hash(u24(data, ip + length + 1))] = (uint32_t)(ip + length + 1);
        ip = anchor = ip + length + 2;
    }
    return size + literals_length(n - anchor);
}
