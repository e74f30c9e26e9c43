/* Run-time support for AOT-compiled EVM contracts (C23, clang >= 16): the frame ABI shared with
 * aot/loader.py, 256-bit helpers with exact EVM semantics, memory with exact expansion cost, and
 * Keccak-256. Every generated translation unit starts with this text; its out-of-line helpers
 * (RTFN) are defined only with AOT_RUNTIME, in one object built once per compiler and linked into
 * every shared object (aot/build.py runtime_object). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned _BitInt(256) u256;
typedef signed _BitInt(256) s256;
typedef unsigned _BitInt(512) u512;

#define NOINLINE __attribute__((noinline))
#define EXPORT __attribute__((visibility("default")))
#define RTFN NOINLINE __attribute__((visibility("hidden")))
/* Block functions: file-local, or hidden and shared between the units of a split build. */
#ifdef AOT_SPLIT
#define BLOCKFN NOINLINE __attribute__((visibility("hidden")))
#else
#define BLOCKFN static NOINLINE
#endif

/* MULMOD by a 4-limb modulus n (not a power of two): mu = floor((2^512 - 1) / n), kept per frame
   (field arithmetic reduces by one modulus over and over) once n is used twice in a row (`seen` is
   the last modulus; code alternating moduli, like mulDiv, keeps long division); n[3] == 0 marks an
   empty entry. */
typedef struct aot_modcache {
    uint64_t n[4];
    uint64_t mu[5];
    uint64_t seen[4];
} aot_modcache;

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
    /* Native host state (see aot/host.py). */
    int32_t err;               /* status of a failed native host helper (0: out of gas) */
    uint32_t is_static;        /* in: SSTORE fails with AOT_STATIC */
    int64_t refund;            /* SSTORE refund counter delta, not yet handed to the host */
    struct aot_slot *slots;    /* storage slots touched since the last flush, in first-touch order */
    uint64_t slot_count;
    uint64_t slot_cap;
    uint32_t *slot_index;      /* open addressing: entry index + 1, 0 = empty */
    uint64_t slot_mask;
    uint64_t returndata_size;  /* RETURNDATASIZE, kept current by the host after calls */
    uint64_t env_valid;        /* bit i: env[i] holds the value of environment opcode ENV_OPS[i] */
    uint8_t env[16][32];
    u256 *stack;               /* stack of dynamic-jump code (1,024 words), kept while the frame is reused */
    aot_modcache mod;          /* MULMOD's last 4-limb modulus and its Barrett constant */
    /* MegaETH Rex SSTORE and LOG (set by the host before a run, see aot_sstore, aot_log): nonzero when the
       Rex rules apply */
    uint32_t rex_sstore;
    uint32_t rex_log;
    int64_t kv_room;           /* first writes of a slot the frame may still add without the host's check */
    int64_t kv_writes;         /* net first writes of a slot since the host last took them */
    int64_t log_room;          /* data size (bytes) LOGs may still add without the host's check */
    int64_t log_bytes;         /* data size the native LOGs added since the host last took their records */
    int64_t log_storage_gas;   /* storage gas they charged since the host last took it (not compute gas) */
    int64_t log_topic_gas;     /* LOG storage gas per topic and per data byte (the host's spec) */
    int64_t log_byte_gas;
    uint8_t *logs;             /* the native LOGs' records since the host last took them (aot_log) */
    uint64_t log_size;
    uint64_t log_cap;
} aot_frame;

/* One storage slot of the executing account as the frame sees it (little-endian words). */
typedef struct aot_slot {
    uint8_t key[32];
    uint8_t cur[32];
    uint8_t orig[32];
    uint32_t flags;            /* AOT_SLOT_* */
    uint32_t pad;
} aot_slot;

/* AOT_SLOT_COLD: every SLOAD of the slot costs the cold 2,100 (MegaETH's oracle, spec/mega-evm.md §5.2).
   AOT_SLOT_HOST: under Rex every SSTORE of the slot is the host's (a 7702-delegated storage context). */
enum { AOT_SLOT_WARM = 1, AOT_SLOT_WARMED = 2, AOT_SLOT_DIRTY = 4, AOT_SLOT_COLD = 8, AOT_SLOT_HOST = 16 };

enum {
    AOT_STOP = 0, AOT_RETURN = 1, AOT_REVERT = 2, AOT_OOG = 3, AOT_BAD_JUMP = 4,
    AOT_UNDERFLOW = 5, AOT_OVERFLOW = 6, AOT_INVALID = 7, AOT_HOST_ERROR = 8, AOT_STATIC = 9,
};

/* Host requests beyond plain opcodes: 0x100 | op fetches environment opcode op's value into io[0]
   without charging gas; AOT_HOST_SLOAD loads slot io[0] for an instruction that can pay io[1] gas (an int64):
   current value → io[0], original → io[1] (the current one again where SSTORE is the host's: the original is
   only for aot_sstore), and io[2][0]: bit 0 when the slot is already warm, bit 1 when
   every SLOAD of it is cold (AOT_SLOT_COLD), bit 2 when the SLOAD cannot pay its cost (nothing loaded: the
   interpreter charges before it reads), bit 3 when its SSTOREs are the host's (AOT_SLOT_HOST). */
enum { AOT_HOST_ENV = 0x100, AOT_HOST_SLOAD = 0x200 };

enum { AOT_ENV_CALLVALUE = 3 };  /* ENV_INDEX[CALLVALUE] in aot/opcodes.py */
enum { AOT_KEEP_MEM = 1 << 20 };  /* a reused frame keeps a memory buffer up to this size */

EXPORT int aot_mem_resize(aot_frame *f, uint64_t size);
EXPORT void aot_slots_clear(aot_frame *f);
EXPORT void aot_mem_free(aot_frame *f);
/* Out-of-line helpers, defined in the runtime object. */
RTFN int64_t mem_grow(aot_frame *f, int64_t gas, uint64_t end);
RTFN void copy_padded(uint8_t *dst, const uint8_t *src, uint64_t src_len, u256 off, uint64_t size);
RTFN u256 calldataload(const aot_frame *f, u256 off);
RTFN int32_t env_miss(aot_frame *f, int i, uint32_t op, uint32_t pc);
RTFN int64_t aot_sload(aot_frame *f, u256 key, int64_t gas, uint32_t pc);
RTFN int64_t aot_sstore(aot_frame *f, u256 key, u256 value, int64_t gas, uint32_t pc);
RTFN int64_t aot_log(aot_frame *f, uint32_t topics, int64_t gas, uint32_t pc);
RTFN u256 op_div(u256 a, u256 b);
RTFN u256 op_mod(u256 a, u256 b);
RTFN u256 op_sdiv(u256 a, u256 b);
RTFN u256 op_smod(u256 a, u256 b);
RTFN u256 op_addmod(u256 a, u256 b, u256 n);
RTFN u256 op_mulmod(aot_modcache *c, u256 a, u256 b, u256 n);
RTFN u256 op_exp(u256 base, u256 e);
RTFN u256 op_signextend(u256 b, u256 x);
RTFN u256 op_byte(u256 i, u256 x);
RTFN u256 keccak256(const uint8_t *p, uint64_t n);

/* Start a run on a fresh or reused frame (host, handle and buffers are kept; per-run state is reset).
   CALLVALUE is known to the caller, so it is passed in rather than fetched through the host. */
static inline void aot_enter(aot_frame *f, int64_t gas, const char *calldata, uint64_t calldata_size,
                             const char *callvalue, uint32_t is_static) {
    if (f->mem_cap > AOT_KEEP_MEM) {
        free(f->mem);
        f->mem = 0;
        f->mem_cap = 0;
    }
    if (f->log_cap > AOT_KEEP_MEM) {
        free(f->logs);
        f->logs = 0;
        f->log_cap = 0;
    }
    if (f->slot_count) aot_slots_clear(f);
    f->gas = gas;
    f->calldata = (const uint8_t *)calldata;
    f->calldata_size = calldata_size;
    f->is_static = is_static;
    f->mem_size = f->out_offset = f->out_size = f->returndata_size = 0;
    f->err = 0;
    f->refund = 0;
    f->log_size = 0;
    f->log_bytes = f->log_storage_gas = 0;
    memcpy(f->env[AOT_ENV_CALLVALUE], callvalue, 32);
    f->env_valid = 1ULL << AOT_ENV_CALLVALUE;
}

/* Charge expansion for [off, off+size); a negative result means out of gas. */
static inline int64_t mem_need(aot_frame *f, int64_t gas, u256 off, u256 size) {
    if (size == 0) return gas;
    if ((off | size) >> 32) return -1;
    uint64_t end = (uint64_t)off + (uint64_t)size;
    return end <= f->mem_size ? gas : mem_grow(f, gas, end);
}

static inline int64_t copy_cost(u256 size) { return 3 * (int64_t)(((uint64_t)size + 31) / 32); }

/* Big-endian memory words <-> u256. Forcing load_be inline (clang's inliner leaves it out of line in
   large block functions) makes MLOAD-heavy code much faster (blake2b_huff 6.0 -> 3.7 us, snailtracer
   -5%) but compile work ~14% bigger, so units of large code (codegen INLINE_LOADS_MAX_INSTRS), whose
   compile time is the tighter budget, leave it to the inliner. */
#ifdef AOT_INLINE_LOADS
#define LOAD_INLINE __attribute__((always_inline))
#else
#define LOAD_INLINE
#endif
static inline LOAD_INLINE u256 load_be(const uint8_t *p) {
    uint64_t w[4], r[4];
    memcpy(w, p, 32);
    r[0] = __builtin_bswap64(w[3]), r[1] = __builtin_bswap64(w[2]);
    r[2] = __builtin_bswap64(w[1]), r[3] = __builtin_bswap64(w[0]);
    u256 v;
    memcpy(&v, r, 32);
    return v;
}

static inline void store_be(uint8_t *p, u256 v) {
    uint64_t w[4], r[4];
    memcpy(w, &v, 32);
    r[0] = __builtin_bswap64(w[3]), r[1] = __builtin_bswap64(w[2]);
    r[2] = __builtin_bswap64(w[1]), r[3] = __builtin_bswap64(w[0]);
    memcpy(p, r, 32);
}

static inline u256 io_get(const aot_frame *f, int i) { u256 v; memcpy(&v, f->io[i], 32); return v; }
static inline void io_set(aot_frame *f, int i, u256 v) { memcpy(f->io[i], &v, 32); }

static inline u256 env_get(const aot_frame *f, int i) { u256 v; memcpy(&v, f->env[i], 32); return v; }

static inline int byte_len(u256 v) {
    int n = 0;
    while (v) { n++; v >>= 8; }
    return n;
}
static inline u256 op_slt(u256 a, u256 b) { return (s256)a < (s256)b; }
/* Division with both operands in 64 bits (signed: sign-extended from 64 bits) inline; the runtime's
   long division otherwise (b == 0 gives 0 there). */
static inline int fits_u64(u256 a, u256 b) { return ((a | b) >> 64) == 0 && (uint64_t)b != 0; }
static inline int fits_s64(u256 a, u256 b) {
    int64_t x = (int64_t)(uint64_t)a, y = (int64_t)(uint64_t)b;
    return (u256)(s256)x == a && (u256)(s256)y == b && y != 0 && !(x == INT64_MIN && y == -1);
}
static inline u256 div_i(u256 a, u256 b) { return fits_u64(a, b) ? (u256)((uint64_t)a / (uint64_t)b) : op_div(a, b); }
static inline u256 mod_i(u256 a, u256 b) { return fits_u64(a, b) ? (u256)((uint64_t)a % (uint64_t)b) : op_mod(a, b); }
static inline u256 sdiv_i(u256 a, u256 b) {
    return fits_s64(a, b) ? (u256)(s256)((int64_t)(uint64_t)a / (int64_t)(uint64_t)b) : op_sdiv(a, b);
}
static inline u256 smod_i(u256 a, u256 b) {
    return fits_s64(a, b) ? (u256)(s256)((int64_t)(uint64_t)a % (int64_t)(uint64_t)b) : op_smod(a, b);
}
/* Shifts by a run-time amount, inline: a call passes three 256-bit words through memory. */
static inline u256 op_shl(u256 s, u256 x) { return s >= 256 ? 0 : x << (unsigned)s; }
static inline u256 op_shr(u256 s, u256 x) { return s >= 256 ? 0 : x >> (unsigned)s; }
static inline u256 op_sar(u256 s, u256 x) {
    if (s >= 256) return (s256)x < 0 ? ~(u256)0 : 0;
    return (u256)((s256)x >> (unsigned)s);
}

#ifdef AOT_RUNTIME
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
    if (size - f->mem_size == 32) {  /* the common growth by one word: an inline store, not a call */
        memset(f->mem + f->mem_size, 0, 32);
    } else {
        memset(f->mem + f->mem_size, 0, size - f->mem_size);
    }
    f->mem_size = size;
    return 1;
}

EXPORT void aot_slots_clear(aot_frame *f) {
    if (f->slot_index) memset(f->slot_index, 0, (f->slot_mask + 1) * sizeof(uint32_t));
    f->slot_count = 0;
}

EXPORT void aot_mem_free(aot_frame *f) {
    free(f->mem);
    f->mem = 0;
    f->mem_size = f->mem_cap = 0;
    free(f->slots);
    free(f->slot_index);
    f->slots = 0;
    f->slot_index = 0;
    f->slot_count = f->slot_cap = f->slot_mask = 0;
    free(f->stack);
    f->stack = 0;
    free(f->logs);
    f->logs = 0;
    f->log_size = f->log_cap = 0;
}

static inline int64_t mem_cost(uint64_t words) { return (int64_t)(3 * words + words * words / 512); }

RTFN int64_t mem_grow(aot_frame *f, int64_t gas, uint64_t end) {
    uint64_t words = (end + 31) / 32;
    gas -= mem_cost(words) - mem_cost(f->mem_size / 32);
    if (gas < 0 || !aot_mem_resize(f, words * 32)) return -1;
    return gas;
}
/* Copy src[off .. off+size) into dst, zero-filling past src_len (CALLDATACOPY, CODECOPY). */
RTFN void copy_padded(uint8_t *dst, const uint8_t *src, uint64_t src_len, u256 off, uint64_t size) {
    uint64_t n = 0;
    if (off < src_len) {
        uint64_t o = (uint64_t)off;
        n = src_len - o < size ? src_len - o : size;
        memcpy(dst, src + o, n);
    }
    memset(dst + n, 0, size - n);
}
RTFN u256 calldataload(const aot_frame *f, u256 off) {
    uint8_t buf[32];
    copy_padded(buf, f->calldata, f->calldata_size, off, 32);
    return load_be(buf);
}
/* Environment opcodes: fetched from the host once per frame, then served from env[]. */
RTFN int32_t env_miss(aot_frame *f, int i, uint32_t op, uint32_t pc) {
    int32_t st = f->host(f, AOT_HOST_ENV | op, pc);
    if (st) return st;
    memcpy(f->env[i], f->io[0], 32);
    f->env_valid |= 1ULL << i;
    return 0;
}
/* Storage of the executing account: a per-frame cache written back by the host at frame exit and
   before calls (EIP-2929 warmth, EIP-2200/3529 costs and refunds computed here, as py-evm does). */
static inline uint64_t slot_hash(u256 k) {
    uint64_t h = (uint64_t)k ^ (uint64_t)(k >> 64) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(k >> 128)
        ^ (uint64_t)(k >> 192) * 0xC2B2AE3D27D4EB4FULL;
    h *= 0xFF51AFD7ED558CCDULL;
    return h ^ (h >> 32);
}

static int slot_reserve(aot_frame *f) {
    if (f->slot_count + 1 > f->slot_cap) {
        uint64_t cap = f->slot_cap ? 2 * f->slot_cap : 32;
        aot_slot *s = realloc(f->slots, cap * sizeof(aot_slot));
        if (!s) return 0;
        f->slots = s;
        f->slot_cap = cap;
    }
    if (2 * (f->slot_count + 1) > f->slot_mask + 1 || !f->slot_index) {
        uint64_t size = f->slot_index ? 2 * (f->slot_mask + 1) : 64;
        uint32_t *idx = calloc(size, sizeof(uint32_t));
        if (!idx) return 0;
        for (uint64_t e = 0; e < f->slot_count; e++) {
            u256 k;
            memcpy(&k, f->slots[e].key, 32);
            uint64_t h = slot_hash(k) & (size - 1);
            while (idx[h]) h = (h + 1) & (size - 1);
            idx[h] = (uint32_t)e + 1;
        }
        free(f->slot_index);
        f->slot_index = idx;
        f->slot_mask = size - 1;
    }
    return 1;
}
/* The cached slot `key`, loading it from the host on first touch for an instruction that can pay `gas`;
   NULL with f->err set on failure (0: an SLOAD that cannot pay for the slot, which is not loaded). */
static NOINLINE aot_slot *slot_find(aot_frame *f, u256 key, int64_t gas, uint32_t pc) {
    if (f->slot_index) {
        uint64_t h = slot_hash(key) & f->slot_mask;
        for (uint32_t e; (e = f->slot_index[h]); h = (h + 1) & f->slot_mask) {
            u256 k;
            memcpy(&k, f->slots[e - 1].key, 32);
            if (k == key) return &f->slots[e - 1];
        }
    }
    if (!slot_reserve(f)) { f->err = AOT_HOST_ERROR; return 0; }
    io_set(f, 0, key);
    io_set(f, 1, (u256)(uint64_t)(gas < 0 ? 0 : gas));
    int32_t st = f->host(f, AOT_HOST_SLOAD, pc);
    if (st) { f->err = st; return 0; }
    if (f->io[2][0] & 4) { f->err = 0; return 0; }
    uint64_t h = slot_hash(key) & f->slot_mask;
    while (f->slot_index[h]) h = (h + 1) & f->slot_mask;
    aot_slot *s = &f->slots[f->slot_count];
    f->slot_index[h] = (uint32_t)++f->slot_count;
    memcpy(s->key, &key, 32);
    memcpy(s->cur, f->io[0], 32);
    memcpy(s->orig, f->io[1], 32);
    s->flags = (f->io[2][0] & 1 ? AOT_SLOT_WARM : 0) | (f->io[2][0] & 2 ? AOT_SLOT_COLD : 0) |
               (f->io[2][0] & 8 ? AOT_SLOT_HOST : 0);
    s->pad = 0;
    return s;
}
/* SLOAD with `gas` visible to it: returns the gas left (value in io[0]); negative on failure, with
   f->err = 0 for out of gas. */
RTFN int64_t aot_sload(aot_frame *f, u256 key, int64_t gas, uint32_t pc) {
    aot_slot *s = slot_find(f, key, gas, pc);
    if (!s) return -1;
    if ((s->flags & (AOT_SLOT_WARM | AOT_SLOT_COLD)) == AOT_SLOT_WARM) {
        gas -= 100;
    } else {
        if (!(s->flags & AOT_SLOT_WARM)) s->flags |= AOT_SLOT_WARM | AOT_SLOT_WARMED;
        gas -= 2100;
    }
    memcpy(f->io[0], s->cur, 32);
    return gas;
}
/* SSTORE as the host's opcode (io[0] = key, io[1] = value): the gas left, or negative with f->err set. */
static NOINLINE int64_t sstore_host(aot_frame *f, u256 key, u256 value, int64_t gas, uint32_t pc) {
    io_set(f, 0, key);
    io_set(f, 1, value);
    f->gas = gas;
    int32_t st = f->host(f, 0x55, pc);
    if (st) { f->err = st; return -1; }
    return f->gas;
}
/* Under MegaETH Rex (f->rex_sstore) an SSTORE runs here only when it owes no storage gas, changes no state
   growth, and a first write of the slot stays within f->kv_room (so no tx limit can be crossed:
   spec/mega-evm.md §4.3-4.6, §5.2); its net first writes are counted in f->kv_writes for the host's meter.
   Every other Rex SSTORE (0 -> 0 -> x, x -> 0 for an original 0, a slot flagged AOT_SLOT_HOST, no room
   left) is the host's wrapper. The standard gas below is the same for both. */
RTFN int64_t aot_sstore(aot_frame *f, u256 key, u256 value, int64_t gas, uint32_t pc) {
    if (f->is_static) { f->err = AOT_STATIC; return -1; }
    if (gas <= 2300) return -1;               /* EIP-2200 sentry */
    aot_slot *s = slot_find(f, key, gas, pc); /* SSTORE reads the slot before it charges (gas > 2300 pays) */
    if (!s) return -1;
    u256 cur, orig;
    memcpy(&cur, s->cur, 32);
    memcpy(&orig, s->orig, 32);
    if (f->rex_sstore) {
        int64_t writes = orig == cur ? value != orig : -(int64_t)(value == orig);
        if ((s->flags & AOT_SLOT_HOST) || (orig == 0 && (cur == 0) != (value == 0)) ||
            (writes > 0 && f->kv_room <= 0))
            return sstore_host(f, key, value, gas, pc);
        f->kv_room -= writes;
        f->kv_writes += writes;
    }
    int64_t cost, refund = 0;
    if (cur == value) {
        cost = 100;
    } else if (orig == cur) {
        cost = orig == 0 ? 20000 : 2900;
        if (orig != 0 && value == 0) refund += 4800;
    } else {
        cost = 100;
        if (orig != 0) {
            if (cur == 0) refund -= 4800;
            if (value == 0) refund += 4800;
        }
        if (orig == value) refund += orig == 0 ? 20000 - 100 : 2900 - 100;
    }
    gas -= cost;
    if (gas < 0) return gas;
    f->refund += refund;
    memcpy(s->cur, &value, 32);
    s->flags |= AOT_SLOT_DIRTY;
    if (!(s->flags & AOT_SLOT_WARM)) {
        s->flags |= AOT_SLOT_WARM | AOT_SLOT_WARMED;
        gas -= 2100;
    }
    return gas;
}
/* LOGn as the host's opcode (its arguments already in io[]): the gas left, or negative with f->err set. */
static NOINLINE int64_t log_host(aot_frame *f, uint32_t topics, int64_t gas, uint32_t pc) {
    f->gas = gas;
    int32_t st = f->host(f, 0xA0 + topics, pc);
    if (st) { f->err = st; return -1; }
    return f->gas;
}
/* LOGn with io[0] = offset, io[1] = size, io[2..] = topics. Only under MegaETH Rex (f->rex_log), and only
   when its data size 32·topics + size stays within f->log_room (so no tx limit can be crossed) and it
   halts nothing (no static context, gas and memory enough): then it runs here as the Rex wrapper does
   (spec/mega-evm.md §5.2: storage gas, then the standard LOG), recording the entry in f->logs (`topics`,
   size as 4 bytes little-endian, the topics as io words, the data) and its data size and storage gas for
   the host. Every other LOG is the host's wrapper, which raises what the interpreter raises. */
RTFN int64_t aot_log(aot_frame *f, uint32_t topics, int64_t gas, uint32_t pc) {
    if (gas < 0) return -1;
    u256 off = io_get(f, 0), size = io_get(f, 1);
    if (!f->rex_log || f->is_static || (size >> 32) || (size && (off >> 32)))
        return log_host(f, topics, gas, pc);
    uint64_t n = (uint64_t)size;
    int64_t usage = 32 * (int64_t)topics + (int64_t)n;
    int64_t storage = f->log_topic_gas * topics + f->log_byte_gas * (int64_t)n;
    int64_t left = gas - storage - 375 * (1 + (int64_t)topics) - 8 * (int64_t)n;
    if (usage > f->log_room || left < 0 || (left = mem_need(f, left, off, size)) < 0)
        return log_host(f, topics, gas, pc);
    uint64_t record = 5 + 32 * topics + n;
    if (f->log_size + record > f->log_cap) {
        uint64_t cap = f->log_cap ? f->log_cap : 1024;
        while (cap < f->log_size + record) cap *= 2;
        uint8_t *p = realloc(f->logs, cap);
        if (!p) { f->err = AOT_HOST_ERROR; return -1; }
        f->logs = p;
        f->log_cap = cap;
    }
    uint8_t *p = f->logs + f->log_size;
    p[0] = (uint8_t)topics;
    for (int i = 0; i < 4; i++) p[1 + i] = (uint8_t)(n >> (8 * i));
    memcpy(p + 5, f->io[2], 32 * topics);
    if (n) memcpy(p + 5 + 32 * topics, f->mem + (uint64_t)off, n);
    f->log_size += record;
    f->log_room -= usage;
    f->log_bytes += usage;
    f->log_storage_gas += storage;
    return left;
}
/* Arithmetic with EVM semantics. Division is Knuth's algorithm D on 64-bit limbs (clang expands
   _BitInt division bit by bit, ~100x slower); the 128/64 step is one `divq` on x86-64. */
typedef unsigned __int128 u128;

static inline uint64_t div128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem) { /* needs hi < d */
#if defined(__x86_64__)
    uint64_t q, r;
    __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "r"(d));
    *rem = r;
    return q;
#else
    u128 n = ((u128)hi << 64) | lo;
    *rem = (uint64_t)(n % d);
    return (uint64_t)(n / d);
#endif
}

static inline int limbs_used(const uint64_t *x, int n) {
    while (n > 0 && x[n - 1] == 0) n--;
    return n;
}

static inline void to_limbs(uint64_t *l, u256 x) { memcpy(l, &x, 32); }
static inline u256 from_limbs(const uint64_t *l) { u256 x; memcpy(&x, l, 32); return x; }

/* q[0..m-n] = u / v, r[0..n-1] = u % v for m-limb u and n-limb v (v[n-1] != 0, 2 <= n <= m <= 8);
   inlined per divisor length so the inner loops have constant bounds. */
static inline __attribute__((always_inline)) void divmod_n(uint64_t *q, uint64_t *r, const uint64_t *u,
                                                          const uint64_t *v, int m, int n) {
    int s = __builtin_clzll(v[n - 1]);
    uint64_t vn[8], un[9];
    for (int i = n - 1; i > 0; i--) vn[i] = (v[i] << s) | (s ? v[i - 1] >> (64 - s) : 0);
    vn[0] = v[0] << s;
    un[m] = s ? u[m - 1] >> (64 - s) : 0;
    for (int i = m - 1; i > 0; i--) un[i] = (u[i] << s) | (s ? u[i - 1] >> (64 - s) : 0);
    un[0] = u[0] << s;
    for (int j = m - n; j >= 0; j--) {
        uint64_t qhat, rhat;
        int big = 0;
        if (un[j + n] >= vn[n - 1]) {
            qhat = ~0ULL;
            u128 t = (u128)un[j + n - 1] + vn[n - 1] + ((u128)(un[j + n] - vn[n - 1]) << 64);
            big = (t >> 64) != 0;
            rhat = (uint64_t)t;
        } else {
            qhat = div128(un[j + n], un[j + n - 1], vn[n - 1], &rhat);
        }
        while (!big && (u128)qhat * vn[n - 2] > (((u128)rhat << 64) | un[j + n - 2])) {
            qhat--;
            u128 t = (u128)rhat + vn[n - 1];
            big = (t >> 64) != 0;
            rhat = (uint64_t)t;
        }
        uint64_t borrow = 0, carry = 0;
        for (int i = 0; i < n; i++) {
            u128 p = (u128)qhat * vn[i] + carry;
            carry = (uint64_t)(p >> 64);
            uint64_t pl = (uint64_t)p, x = un[i + j];
            uint64_t t = x - pl - borrow;
            borrow = (x < pl) | ((x - pl) < borrow);
            un[i + j] = t;
        }
        uint64_t x = un[j + n];
        un[j + n] = x - carry - borrow;
        borrow = (x < carry) | ((x - carry) < borrow);
        if (borrow) {
            qhat--;
            uint64_t c = 0;
            for (int i = 0; i < n; i++) {
                u128 t = (u128)un[i + j] + vn[i] + c;
                un[i + j] = (uint64_t)t;
                c = (uint64_t)(t >> 64);
            }
            un[j + n] += c;
        }
        q[j] = qhat;
    }
    for (int i = 0; i < n; i++) r[i] = (un[i] >> s) | (s ? un[i + 1] << (64 - s) : 0);
}

static NOINLINE void divmod_limbs(uint64_t *q, uint64_t *r, const uint64_t *u, const uint64_t *v, int m, int n) {
    switch (n) {
    case 1: {
        uint64_t rem = 0;
        for (int j = m - 1; j >= 0; j--) q[j] = div128(rem, u[j], v[0], &rem);
        r[0] = rem;
        return;
    }
    case 2: divmod_n(q, r, u, v, m, 2); return;
    case 3: divmod_n(q, r, u, v, m, 3); return;
    default: divmod_n(q, r, u, v, m, 4); return;
    }
}
/* a / b and a % b for b != 0 (a power of two divides by shifting: old Solidity shifts with DIV). */
static inline __attribute__((always_inline)) void udivmod(u256 a, u256 b, u256 *q, u256 *r) {
    if (a < b) { *q = 0; *r = a; return; }
    uint64_t u[4], v[4], ql[4] = {0}, rl[4] = {0};
    to_limbs(v, b);
    if ((b & (b - 1)) == 0) {
        int i = 0;
        while (!v[i]) i++;
        *q = a >> (64 * i + __builtin_ctzll(v[i]));
        *r = a & (b - 1);
        return;
    }
    if ((a >> 64) == 0) { *q = (uint64_t)a / (uint64_t)b; *r = (uint64_t)a % (uint64_t)b; return; }
    if (((a >> 128) | (b >> 64)) == 0) {  /* fixed-point arithmetic: a 128-bit by 64-bit division */
        uint64_t d = (uint64_t)b, hi = (uint64_t)(a >> 64), q1 = 0, rem;
        if (hi >= d) q1 = div128(0, hi, d, &hi);
        uint64_t q0 = div128(hi, (uint64_t)a, d, &rem);
        *q = (u256)q1 << 64 | q0;
        *r = rem;
        return;
    }
    to_limbs(u, a);
    if ((b >> 64) == 0) {  /* a 64-bit divisor (fixed-point arithmetic): one hardware division per limb,
                              none for a top limb below the divisor (its quotient limb is 0) */
        int j = limbs_used(u, 4) - 1;
        uint64_t rem = 0;
        if (u[j] < v[0]) rem = u[j--];
        for (; j >= 0; j--) ql[j] = div128(rem, u[j], v[0], &rem);
        *q = from_limbs(ql);
        *r = rem;
        return;
    }
    int m = limbs_used(u, 4), n = limbs_used(v, 4);
    divmod_limbs(ql, rl, u, v, m, n);
    *q = from_limbs(ql);
    *r = from_limbs(rl);
}
RTFN u256 op_div(u256 a, u256 b) {
    if (b == 0) return 0;
    u256 q, r;
    udivmod(a, b, &q, &r);
    return q;
}
RTFN u256 op_mod(u256 a, u256 b) {
    if (b == 0) return 0;
    u256 q, r;
    udivmod(a, b, &q, &r);
    return r;
}
static inline int neg(u256 a) { return (int)(a >> 255); }
RTFN u256 op_sdiv(u256 a, u256 b) {
    if (b == 0) return 0;
    u256 ua = neg(a) ? -a : a, ub = neg(b) ? -b : b, q, r;
    udivmod(ua, ub, &q, &r);
    return neg(a) != neg(b) ? -q : q;
}
RTFN u256 op_smod(u256 a, u256 b) {
    if (b == 0) return 0;
    u256 ua = neg(a) ? -a : a, ub = neg(b) ? -b : b, q, r;
    udivmod(ua, ub, &q, &r);
    return neg(a) ? -r : r;
}
/* x mod n for an m-limb x (m <= 8), n != 0. */
static u256 mod_limbs(const uint64_t *x, int m, u256 n) {
    uint64_t v[4], q[9], r[4] = {0};
    to_limbs(v, n);
    int nl = limbs_used(v, 4);
    m = limbs_used(x, m);
    if (m < nl) { uint64_t t[4] = {0}; memcpy(t, x, 8 * (size_t)m); return from_limbs(t); }
    divmod_limbs(q, r, x, v, m, nl);
    return from_limbs(r);
}
RTFN u256 op_addmod(u256 a, u256 b, u256 n) {
    if (n == 0) return 0;
    uint64_t x[5];
    u256 s = a + b;
    if (a < n && b < n)  /* reduced operands (field arithmetic): a + b < 2n, one subtraction at most */
        return s < a || s >= n ? s - n : s;
    to_limbs(x, s);
    x[4] = s < a;
    return mod_limbs(x, 5, n);
}
/* x mod n for a 4-limb n (not a power of two) with its Barrett constant mu = floor(2^512 / n) (HAC 14.42,
   k = 4): q3 = ((x >> 192) * mu) >> 320 is at most 2 below x / n, so x - q3 * n < 3n < 2^320 is exact
   modulo 2^320 and at most two subtractions finish. In _BitInt arithmetic: clang's expansion of these
   products of zero-extended operands is ~20% faster than limb loops over arrays. */
typedef unsigned _BitInt(320) u320;
typedef unsigned _BitInt(640) u640;
static u256 barrett(u512 x, u256 n, const uint64_t *mu_limbs) {
    u320 mu;
    memcpy(&mu, mu_limbs, sizeof mu);
    u320 q3 = (u320)(((u640)(u320)(x >> 192) * mu) >> 320);
    u320 r = (u320)x - q3 * (u320)n;
    while (r >= n) r -= n;
    return (u256)r;
}
RTFN u256 op_mulmod(aot_modcache *c, u256 a, u256 b, u256 n) {
    if (n == 0) return 0;
    u512 x = (u512)a * b;
    uint64_t p[8];
    memcpy(p, &x, sizeof p);
    if ((n >> 192) == 0 || (n & (n - 1)) == 0) return mod_limbs(p, 8, n);
    uint64_t nl[4];
    to_limbs(nl, n);
    if ((nl[0] ^ c->n[0]) | (nl[1] ^ c->n[1]) | (nl[2] ^ c->n[2]) | (nl[3] ^ c->n[3])) {
        if ((nl[0] ^ c->seen[0]) | (nl[1] ^ c->seen[1]) | (nl[2] ^ c->seen[2]) | (nl[3] ^ c->seen[3])) {
            memcpy(c->seen, nl, 32);
            return mod_limbs(p, 8, n);
        }
        uint64_t ones[8], rem[4];
        memset(ones, 0xff, sizeof ones);
        divmod_limbs(c->mu, rem, ones, nl, 8, 4);
        memcpy(c->n, nl, 32);
    }
    return barrett(x, n, c->mu);
}
RTFN u256 op_exp(u256 base, u256 e) {
    u256 r = 1;
    while (e) {
        if (e & 1) r *= base;
        base *= base;
        e >>= 1;
    }
    return r;
}
RTFN u256 op_signextend(u256 b, u256 x) {
    if (b >= 31) return x;
    unsigned bit = 8 * (unsigned)b + 7;
    u256 mask = ((u256)1 << bit) - 1;
    return (x >> bit) & 1 ? x | ~mask : x & mask;
}
RTFN u256 op_byte(u256 i, u256 x) { return i >= 32 ? 0 : (x >> (8 * (31 - (unsigned)i))) & 0xff; }
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
RTFN u256 keccak256(const uint8_t *p, uint64_t n) {
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
#endif
