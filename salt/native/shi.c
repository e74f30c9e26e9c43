/* SHI bucket tables of flat buckets in C (spec/salt.md §2.3): the no-resize path of
 * `salt.shi.ShiState.update_prepared` for whole batches, cross-checked against it in tests.
 *
 * Per bucket (capacity 256): its stored slots (94-byte SaltValues) and its ops in batch order
 * (upsert with displacement, delete with backward shift), exactly as the Python reference. A bucket
 * whose ops would resize it (load factor or a full probe run) or whose key/value is longer than
 * 255 bytes is reported, so the caller runs the batch in Python instead.
 */
#include "banderwagon.h"
#include "salt_internal.h"

#include <stdlib.h>
#include <string.h>

#define FLAT_CAP 256
#define DEL_LEN 0xFFFFFFFFu
#define EMPTY_LEN 0xFFFFFFFFu
#define MAX_USED (FLAT_CAP * 80 / 100) /* BUCKET_RESIZE_LOAD_FACTOR_PCT */
#define NONE (-1)

typedef struct {
    const uint8_t *entry_raw;  /* 94 bytes per stored entry */
    const uint8_t *op_data;    /* key ‖ value per op */
    const uint32_t *op_len;    /* key length, value length (DEL_LEN) per op */
    const uint32_t *op_start;  /* byte offset of each op in op_data */
    int32_t n_ops;             /* ops in the batch */
} refs;

/* Content of a reference: batch op index (< n_ops) or n_ops + stored-entry index. */
static inline const uint8_t *ref_kv(const refs *r, int32_t ref, uint32_t *kl, uint32_t *vl) {
    if (ref < r->n_ops) {
        *kl = r->op_len[2 * ref];
        *vl = r->op_len[2 * ref + 1];
        return r->op_data + r->op_start[ref];
    }
    const uint8_t *raw = r->entry_raw + 94 * (size_t)(ref - r->n_ops);
    *kl = raw[0];
    *vl = raw[1];
    return raw + 2;
}

/* Python bytes ordering of the plain keys: <0, 0, >0. */
static inline int key_cmp(const refs *r, int32_t x, int32_t y) {
    uint32_t lx, vx, ly, vy;
    const uint8_t *kx = ref_kv(r, x, &lx, &vx), *ky = ref_kv(r, y, &ly, &vy);
    int c = memcmp(kx, ky, lx < ly ? lx : ly);
    return c ? c : (lx > ly) - (lx < ly);
}

static inline int same_content(const refs *r, int32_t x, int32_t y) {
    if (x == y) return 1;
    if (x == NONE || y == NONE) return 0;
    uint32_t lx, vx, ly, vy;
    const uint8_t *kx = ref_kv(r, x, &lx, &vx), *ky = ref_kv(r, y, &ly, &vy);
    return lx == ly && vx == vy && memcmp(kx, ky, lx + vx) == 0;
}

static inline uint32_t probe_slot(const refs *r, int32_t ref, uint32_t nonce) {
    uint32_t kl, vl;
    const uint8_t *k = ref_kv(r, ref, &kl, &vl);
    return (uint32_t)(salt_hash_with_nonce(k, kl, nonce) % FLAT_CAP);
}

#define SET(slot, ref) (table[slot] = (ref), dirty[(slot) >> 6] |= 1ULL << ((slot) & 63))

/* One bucket's ops on `table` (refs per slot), marking each slot written in `dirty`; 0, or 1 when
 * the bucket would resize. */
static int bucket_ops(const refs *r, int32_t *table, uint64_t dirty[4], uint32_t used, uint32_t nonce,
                      const uint32_t *op, const uint32_t *end) {
    for (; op < end; op++) {
        int32_t cur = (int32_t)*op;
        uint32_t h = probe_slot(r, cur, nonce);
        if (r->op_len[2 * cur + 1] != DEL_LEN) { /* shi_upsert */
            uint32_t step;
            for (step = 0; step < FLAT_CAP; step++) {
                uint32_t slot = (h + step) % FLAT_CAP;
                int32_t old = table[slot];
                if (old == NONE) {
                    SET(slot, cur);
                    if (++used > MAX_USED) return 1; /* load-factor resize */
                    break;
                }
                int c = key_cmp(r, old, cur);
                if (c == 0) {
                    SET(slot, cur);
                    break;
                }
                if (c < 0) { /* displace the smaller key */
                    SET(slot, cur);
                    cur = old;
                }
            }
            if (step == FLAT_CAP) return 1; /* forced expansion */
            continue;
        }
        /* shi_delete: search along the probe run, then shift back */
        int32_t del = NONE;
        for (uint32_t step = 0; step < FLAT_CAP; step++) {
            uint32_t slot = (h + step) % FLAT_CAP;
            int32_t v = table[slot];
            if (v == NONE) break;
            int c = key_cmp(r, v, cur);
            if (c == 0) {
                del = (int32_t)slot;
                break;
            }
            if (c < 0) break;
        }
        if (del == NONE) continue;
        uint32_t ds = (uint32_t)del;
        for (;;) {
            int32_t mv = NONE;
            for (uint32_t i = 1; i < FLAT_CAP; i++) {
                uint32_t slot = (ds + i) % FLAT_CAP;
                int32_t v = table[slot];
                if (v == NONE) break;
                uint32_t ideal = probe_slot(r, v, nonce);
                if ((slot + FLAT_CAP - ideal) % FLAT_CAP > (ds + FLAT_CAP - ideal) % FLAT_CAP) {
                    mv = (int32_t)slot;
                    break;
                }
            }
            if (mv == NONE) {
                SET(ds, NONE);
                used--;
                break;
            }
            SET(ds, table[mv]);
            ds = (uint32_t)mv;
        }
    }
    return 0;
}

#undef SET

static size_t put_content(const refs *r, int32_t ref, uint8_t *out, uint32_t *len) {
    if (ref == NONE) {
        *len = EMPTY_LEN;
        return 0;
    }
    uint32_t kl, vl;
    const uint8_t *kv = ref_kv(r, ref, &kl, &vl);
    memcpy(out, kv, kl + vl);
    *len = kl + vl;
    return kl + vl;
}

int salt_shi_flat(size_t n_buckets, const uint64_t *buckets, const uint32_t *nonces,
                  const uint32_t *entry_off, const uint8_t *entry_slot, const uint8_t *entry_raw,
                  size_t n_ops, const uint32_t *op_idx, size_t n_all, const uint64_t *op_bucket,
                  const uint8_t *op_data, const uint32_t *op_len, const uint32_t *op_start,
                  uint32_t *out_count, int32_t *out_used_delta, uint64_t *out_key, int32_t *out_old,
                  int32_t *out_new, uint8_t *out_data, uint32_t *out_lens, size_t *out_n) {
    out_n[0] = out_n[1] = 0;
    if (n_all > 0x3FFFFFFF || entry_off[n_buckets] > 0x3FFFFFFF) return SALT_EINDEX;
    for (size_t j = 0; j < n_ops; j++)
        if (op_idx[j] >= n_all) return SALT_EINDEX;
    refs r = {entry_raw, op_data, op_len, op_start, (int32_t)n_all};
    int32_t table[FLAT_CAP], orig[FLAT_CAP];
    size_t n = 0, data = 0, op1 = 0;
    int flagged = 0;
    for (size_t b = 0; b < n_buckets; b++) {
        const size_t op0 = op1;
        while (op1 < n_ops && op_bucket[op_idx[op1]] == buckets[b]) op1++;
        out_count[b] = 0;
        out_used_delta[b] = 0;
        int bad = 0;
        for (size_t j = op0; j < op1; j++) {
            const uint32_t op = op_idx[j];
            if (op_len[2 * op] > 255 || (op_len[2 * op + 1] != DEL_LEN && op_len[2 * op + 1] > 255)) bad = 1;
        }
        memset(table, 0xFF, sizeof table); /* NONE */
        uint32_t used = entry_off[b + 1] - entry_off[b];
        for (uint32_t e = entry_off[b]; e < entry_off[b + 1]; e++) {
            const uint8_t *raw = entry_raw + 94 * (size_t)e;
            if (2u + raw[0] + raw[1] > 94) bad = 1;
            table[entry_slot[e]] = (int32_t)(n_all + e);
        }
        if (bad || used > FLAT_CAP) {
            out_count[b] = 0xFFFFFFFFu;
            flagged++;
            continue;
        }
        memcpy(orig, table, sizeof table);
        uint64_t dirty[4] = {0, 0, 0, 0};
        if (bucket_ops(&r, table, dirty, used, nonces[b], op_idx + op0, op_idx + op1)) {
            out_count[b] = 0xFFFFFFFFu;
            flagged++;
            continue;
        }
        int32_t delta = 0;
        for (int w = 0; w < 4; w++) /* only written slots can differ: ascending slots */
            for (uint64_t bits = dirty[w]; bits; bits &= bits - 1) {
                const int s = 64 * w + __builtin_ctzll(bits);
                if (same_content(&r, table[s], orig[s])) continue;
                delta += (table[s] != NONE) - (orig[s] != NONE);
                out_key[n] = buckets[b] << 40 | (uint64_t)s;
                out_old[n] = orig[s];
                out_new[n] = table[s];
                data += put_content(&r, orig[s], out_data + data, out_lens + 2 * n);
                data += put_content(&r, table[s], out_data + data, out_lens + 2 * n + 1);
                n++;
                out_count[b]++;
            }
        out_used_delta[b] = delta;
    }
    if (op1 != n_ops) return SALT_EINDEX; /* ops not grouped by the buckets given */
    out_n[0] = n;
    out_n[1] = data;
    return flagged;
}

int salt_order_by_bucket(const uint64_t *buckets, size_t n, uint32_t *order, uint64_t *sorted) {
    if (n > 0xFFFFFFFFu) return SALT_EINDEX;
    for (size_t i = 0; i < n; i++) {
        if (buckets[i] >> 24) return SALT_EINDEX;
        order[i] = (uint32_t)i;
    }
    uint32_t *tmp = malloc(n ? n * sizeof(uint32_t) : sizeof(uint32_t));
    if (!tmp) return SALT_ENOMEM;
    uint32_t *src = order, *dst = tmp;
    for (int shift = 0; shift < 24; shift += 12) { /* two stable counting passes of 12 bits */
        static __thread size_t cnt[4097];
        memset(cnt, 0, sizeof cnt);
        for (size_t i = 0; i < n; i++) cnt[((buckets[src[i]] >> shift) & 4095) + 1]++;
        for (int d = 0; d < 4096; d++) cnt[d + 1] += cnt[d];
        for (size_t i = 0; i < n; i++) dst[cnt[(buckets[src[i]] >> shift) & 4095]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    for (size_t k = 0; k < n; k++) sorted[k] = buckets[order[k]]; /* two passes: back in `order` */
    free(tmp);
    return 0;
}

void salt_id_bitmap(const uint8_t *ids_be, size_t n, uint64_t first, uint64_t count, uint8_t *bitmap) {
    for (size_t i = 0; i < n; i++) {
        uint64_t id = 0;
        for (int k = 0; k < 8; k++) id = id << 8 | ids_be[8 * i + k];
        if (id >= first && id - first < count) bitmap[(id - first) >> 3] |= (uint8_t)(1u << ((id - first) & 7));
    }
}
