/* Run-time support for AOT-compiled EVM contracts (C23, clang >= 16): the frame ABI shared with
 * aot/loader.py, 256-bit helpers with exact EVM semantics, memory with exact expansion cost, and
 * Keccak-256. Included once at the top of every generated translation unit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned _BitInt(256) u256;
typedef signed _BitInt(256) s256;
typedef unsigned _BitInt(512) u512;

#define NOINLINE __attribute__((noinline))
#define EXPORT __attribute__((visibility("default")))

/* Keep in step with _CDEF in aot/loader.py. */
typedef struct aot_frame {
    int64_t gas;               /* in: gas limit; out: gas left */
    uint64_t pc;               /* out: pc of the halting instruction */
    const uint8_t *calldata;
    uint64_t calldata_size;
    const uint8_t *code;
    uint64_t code_size;
    uint8_t *mem;              /* owned by the frame; release with aot_mem_free */
    uint64_t mem_size;         /* multiple of 32 */
    uint64_t mem_cap;
    uint64_t out_offset;       /* RETURN/REVERT range in mem */
    uint64_t out_size;
    /* Executes host opcode `op` at `pc`: arguments in io[0..] (io[0] = top of stack), result in io[0],
       gas visible to the instruction in/out of `gas`. Returns 0, or a status that ends the frame. */
    int32_t (*host)(struct aot_frame *f, uint32_t op, uint32_t pc);
    void *handle;
    uint8_t io[7][32];         /* little-endian words */
} aot_frame;

enum {
    AOT_STOP = 0, AOT_RETURN = 1, AOT_REVERT = 2, AOT_OOG = 3, AOT_BAD_JUMP = 4,
    AOT_UNDERFLOW = 5, AOT_OVERFLOW = 6, AOT_INVALID = 7, AOT_HOST_ERROR = 8,
};

/* Memory: offsets and sizes beyond 2^32 can never be paid for (cost > 2^45 gas) and fail as out of gas. */
EXPORT int aot_mem_resize(aot_frame *f, uint64_t size) {
    if (size <= f->mem_size) return 1;
    if (size > f->mem_cap) {
        uint64_t cap = f->mem_cap ? f->mem_cap : 4096;
        while (cap < size) cap *= 2;
        uint8_t *m = realloc(f->mem, cap);
        if (!m) return 0;
        f->mem = m;
        f->mem_cap = cap;
    }
    memset(f->mem + f->mem_size, 0, size - f->mem_size);
    f->mem_size = size;
    return 1;
}

EXPORT void aot_mem_free(aot_frame *f) {
    free(f->mem);
    f->mem = 0;
    f->mem_size = f->mem_cap = 0;
}

static inline int64_t mem_cost(uint64_t words) { return (int64_t)(3 * words + words * words / 512); }

static NOINLINE int64_t mem_grow(aot_frame *f, int64_t gas, uint64_t end) {
    uint64_t words = (end + 31) / 32;
    gas -= mem_cost(words) - mem_cost(f->mem_size / 32);
    if (gas < 0 || !aot_mem_resize(f, words * 32)) return -1;
    return gas;
}

/* Charge expansion for [off, off+size); a negative result means out of gas. */
static inline int64_t mem_need(aot_frame *f, int64_t gas, u256 off, u256 size) {
    if (size == 0) return gas;
    if ((off | size) >> 32) return -1;
    uint64_t end = (uint64_t)off + (uint64_t)size;
    return end <= f->mem_size ? gas : mem_grow(f, gas, end);
}

static inline int64_t copy_cost(u256 size) { return 3 * (int64_t)(((uint64_t)size + 31) / 32); }

static inline u256 load_be(const uint8_t *p) {
    u256 v = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t w;
        memcpy(&w, p + 8 * i, 8);
        v = (v << 64) | (u256)__builtin_bswap64(w);
    }
    return v;
}

static inline void store_be(uint8_t *p, u256 v) {
    for (int i = 3; i >= 0; i--) {
        uint64_t w = __builtin_bswap64((uint64_t)v);
        memcpy(p + 8 * i, &w, 8);
        v >>= 64;
    }
}

static inline u256 io_get(const aot_frame *f, int i) { u256 v; memcpy(&v, f->io[i], 32); return v; }
static inline void io_set(aot_frame *f, int i, u256 v) { memcpy(f->io[i], &v, 32); }

/* Copy src[off .. off+size) into dst, zero-filling past src_len (CALLDATACOPY, CODECOPY). */
static NOINLINE void copy_padded(uint8_t *dst, const uint8_t *src, uint64_t src_len, u256 off, uint64_t size) {
    uint64_t n = 0;
    if (off < src_len) {
        uint64_t o = (uint64_t)off;
        n = src_len - o < size ? src_len - o : size;
        memcpy(dst, src + o, n);
    }
    memset(dst + n, 0, size - n);
}

static NOINLINE u256 calldataload(const aot_frame *f, u256 off) {
    uint8_t buf[32];
    copy_padded(buf, f->calldata, f->calldata_size, off, 32);
    return load_be(buf);
}

/* Arithmetic with EVM semantics (out of line: 256/512-bit division is large code). */
static NOINLINE u256 op_div(u256 a, u256 b) { return b == 0 ? 0 : a / b; }
static NOINLINE u256 op_mod(u256 a, u256 b) { return b == 0 ? 0 : a % b; }
static inline int neg(u256 a) { return (int)(a >> 255); }
static NOINLINE u256 op_sdiv(u256 a, u256 b) {
    if (b == 0) return 0;
    u256 ua = neg(a) ? -a : a, ub = neg(b) ? -b : b, q = ua / ub;
    return neg(a) != neg(b) ? -q : q;
}
static NOINLINE u256 op_smod(u256 a, u256 b) {
    if (b == 0) return 0;
    u256 ua = neg(a) ? -a : a, ub = neg(b) ? -b : b, r = ua % ub;
    return neg(a) ? -r : r;
}
static NOINLINE u256 op_addmod(u256 a, u256 b, u256 n) {
    return n == 0 ? 0 : (u256)(((unsigned _BitInt(257))a + b) % n);
}
static NOINLINE u256 op_mulmod(u256 a, u256 b, u256 n) {
    return n == 0 ? 0 : (u256)(((u512)a * b) % n);
}
static NOINLINE u256 op_exp(u256 base, u256 e) {
    u256 r = 1;
    while (e) {
        if (e & 1) r *= base;
        base *= base;
        e >>= 1;
    }
    return r;
}
static inline int byte_len(u256 v) {
    int n = 0;
    while (v) { n++; v >>= 8; }
    return n;
}
static NOINLINE u256 op_signextend(u256 b, u256 x) {
    if (b >= 31) return x;
    unsigned bit = 8 * (unsigned)b + 7;
    u256 mask = ((u256)1 << bit) - 1;
    return (x >> bit) & 1 ? x | ~mask : x & mask;
}
static NOINLINE u256 op_byte(u256 i, u256 x) { return i >= 32 ? 0 : (x >> (8 * (31 - (unsigned)i))) & 0xff; }
static NOINLINE u256 op_shl(u256 s, u256 x) { return s >= 256 ? 0 : x << (unsigned)s; }
static NOINLINE u256 op_shr(u256 s, u256 x) { return s >= 256 ? 0 : x >> (unsigned)s; }
static NOINLINE u256 op_sar(u256 s, u256 x) {
    if (s >= 256) return neg(x) ? ~(u256)0 : 0;
    return (u256)((s256)x >> (unsigned)s);
}
static inline u256 op_slt(u256 a, u256 b) { return (s256)a < (s256)b; }

/* Keccak-256 (FIPS 202 permutation, original 0x01 padding). */
static const uint64_t KECCAK_RC[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};
static const int KECCAK_ROT[25] = {0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14};

static inline uint64_t rol(uint64_t x, int n) { return n ? (x << n) | (x >> (64 - n)) : x; }

static void keccak_f(uint64_t a[25]) {
    for (int round = 0; round < 24; round++) {
        uint64_t c[5], b[25];
        for (int x = 0; x < 5; x++) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
        for (int x = 0; x < 5; x++) {
            uint64_t d = c[(x + 4) % 5] ^ rol(c[(x + 1) % 5], 1);
            for (int y = 0; y < 25; y += 5) a[y + x] ^= d;
        }
        for (int x = 0; x < 5; x++)
            for (int y = 0; y < 5; y++)
                b[y + 5 * ((2 * x + 3 * y) % 5)] = rol(a[x + 5 * y], KECCAK_ROT[x + 5 * y]);
        for (int y = 0; y < 25; y += 5)
            for (int x = 0; x < 5; x++) a[y + x] = b[y + x] ^ (~b[y + (x + 1) % 5] & b[y + (x + 2) % 5]);
        a[0] ^= KECCAK_RC[round];
    }
}

static NOINLINE u256 keccak256(const uint8_t *p, uint64_t n) {
    enum { RATE = 136 };
    uint64_t a[25] = {0};
    uint8_t block[RATE];
    for (;; p += RATE, n -= RATE) {
        int last = n < RATE;
        if (last) {
            memset(block, 0, RATE);
            if (n) memcpy(block, p, n);
            block[n] ^= 0x01;
            block[RATE - 1] ^= 0x80;
        } else {
            memcpy(block, p, RATE);
        }
        for (int i = 0; i < RATE / 8; i++) {
            uint64_t w;
            memcpy(&w, block + 8 * i, 8);
            a[i] ^= w;
        }
        keccak_f(a);
        if (last) break;
    }
    uint8_t out[32];
    memcpy(out, a, 32);
    return load_be(out);
}
