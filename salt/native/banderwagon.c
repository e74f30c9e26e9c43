/* Batch Banderwagon/Bandersnatch arithmetic for SALT; see banderwagon.h for the API and formats.
 *
 * F_q: 4×64-bit limbs in Montgomery form (R = 2^256), CIOS multiplication without the final carry
 * word (valid because q < 2^255). Points: extended twisted-Edwards coordinates (X:Y:Z:T), a = −5,
 * unified add-2008-hwcd / dbl-2008-hwcd formulas (the same group law as salt/banderwagon.py).
 * Fixed-base multiplication by the SALT generators uses per-generator tables of signed-window
 * multiples k·2^(W·j)·G (k = 1..2^(W−1)) stored affine as (x, y, d·x·y); arbitrary-base MSM uses
 * Pippenger with signed bucket digits, the points loaded into the same affine form. Results are
 * normalised with one batch inversion. With AVX-512 IFMA the table additions and the MSM's bucket
 * additions run in 8 lanes (52-bit limbs; see the AVX-512 IFMA section).
 */
#include "banderwagon.h"
#include "salt_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "salt native code assumes a little-endian target"
#endif

/* Fixed-base windows: SALT_W10 windows of 10 bits, then 9-bit windows, ≥ 254 bits in all (scalars
 * < r < 2^253, plus one carry bit of the signed digits). 20 gives 26 windows (26 additions per
 * multiplication, as with 10-bit windows only) in 20 × 512 + 6 × 256 entries × 96 B × 256 bases
 * ≈ 289 MB; 0 gives 29 windows of 9 bits in 182 MB. */
#ifndef SALT_W10
#define SALT_W10 20
#endif
#define NWIN (SALT_W10 + (254 - 10 * SALT_W10 + 8) / 9)
#define PER_BASE ((size_t)SALT_W10 * 512 + (size_t)(NWIN - SALT_W10) * 256) /* table entries per base */
#define ABI_VERSION 13

static inline int win_bits(int j) { return j < SALT_W10 ? 10 : 9; }
/* First table entry of window j (entries k·2^(offset)·G for k = 1..2^(w-1)). */
static inline size_t win_off(int j) {
    return j < SALT_W10 ? (size_t)j * 512 : (size_t)SALT_W10 * 512 + (size_t)(j - SALT_W10) * 256;
}

typedef unsigned __int128 u128;
typedef struct { uint64_t v[4]; } fq;

/* ---------------------------------------------------------------- constants (checked by tests) */
#define Q0 0xffffffff00000001ULL
#define Q1 0x53bda402fffe5bfeULL
#define Q2 0x3339d80809a1d805ULL
#define Q3 0x73eda753299d7d48ULL
#define N0 0xfffffffeffffffffULL /* -q^-1 mod 2^64 */

static const fq FQ_Q = {{Q0, Q1, Q2, Q3}};
static const fq FQ_ZERO = {{0, 0, 0, 0}};
static const fq FQ_R2 = {{0xc999e990f3f29c6dULL, 0x2b6cedcb87925c23ULL, 0x05d314967254398fULL,
                          0x0748d9d99f59ff11ULL}}; /* 2^512 mod q */
static const fq FQ_ONE = {{0x00000001fffffffeULL, 0x5884b7fa00034802ULL, 0x998c4fefecbc4ff5ULL,
                           0x1824b159acc5056fULL}}; /* 2^256 mod q = Montgomery 1 */
static const fq FQ_D = {{0xa8dced1b47a2c730ULL, 0x381c065aad3cccc7ULL, 0x53ff52e1188351f8ULL,
                         0x362e8d63990fe940ULL}}; /* d in Montgomery form */
static const fq FQ_HALF = {{0x7fffffff80000000ULL, 0xa9ded2017fff2dffULL, 0x199cec0404d0ec02ULL,
                            0x39f6d3a994cebea4ULL}}; /* (q-1)/2, plain */
static const fq FR_R = {{0x74fd06b52876e7e1ULL, 0xff8f870074190471ULL, 0x0cce760202687600ULL,
                         0x1cfb69d4ca675f52ULL}}; /* subgroup order r, plain */
static const fq EXP_QM2 = {{0xfffffffeffffffffULL, Q1, Q2, Q3}}; /* q - 2 */
static const fq EXP_ODDM1H = {{0x7fff2dff7fffffffULL, 0x04d0ec02a9ded201ULL, 0x94cebea4199cec04ULL,
                               0x0000000039f6d3a9ULL}}; /* (((q-1) >> 32) - 1) / 2 */
static const fq FQ_NR_ROOT = {{0xb9b58d8c5f0e466aULL, 0x5b1b4c801819d7ecULL, 0x0af53ae352a31e64ULL,
                               0x5bf3adda19e9b27bULL}}; /* 7^((q-1)>>32), Montgomery form */

/* ---------------------------------------------------------------- 256-bit helpers */
static inline int geq4(const uint64_t *a, const uint64_t *b) {
    for (int i = 3; i >= 0; i--) {
        if (a[i] != b[i]) return a[i] > b[i];
    }
    return 1;
}

static inline uint64_t sub4(uint64_t *r, const uint64_t *a, const uint64_t *b) {
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 d = (u128)a[i] - b[i] - borrow;
        r[i] = (uint64_t)d;
        borrow = (uint64_t)(d >> 64) & 1;
    }
    return borrow;
}

static inline int fq_is_zero(const fq *a) { return (a->v[0] | a->v[1] | a->v[2] | a->v[3]) == 0; }

static inline int fq_eq(const fq *a, const fq *b) {
    return ((a->v[0] ^ b->v[0]) | (a->v[1] ^ b->v[1]) | (a->v[2] ^ b->v[2]) | (a->v[3] ^ b->v[3])) == 0;
}

/* ---------------------------------------------------------------- F_q arithmetic */
#if defined(__x86_64__) && defined(__BMI2__) && defined(__ADX__) && !defined(SALT_NO_ASM)
#define SALT_ASM 1
/* x86-64 with BMI2/ADX: mulx + two independent carry chains (adcx on CF, adox on OF). */
static const uint64_t N0_MEM = N0;

static inline void fq_add(fq *r, const fq *a, const fq *b) {
    uint64_t t0 = a->v[0], t1 = a->v[1], t2 = a->v[2], t3 = a->v[3], s0, s1, s2, s3;
    __asm__("addq %[b0], %[t0]\n\t"
            "adcq %[b1], %[t1]\n\t"
            "adcq %[b2], %[t2]\n\t"
            "adcq %[b3], %[t3]\n\t"
            "movq %[t0], %[s0]\n\t"
            "movq %[t1], %[s1]\n\t"
            "movq %[t2], %[s2]\n\t"
            "movq %[t3], %[s3]\n\t"
            "subq %[q0], %[s0]\n\t"
            "sbbq %[q1], %[s1]\n\t"
            "sbbq %[q2], %[s2]\n\t"
            "sbbq %[q3], %[s3]\n\t"
            "cmovncq %[s0], %[t0]\n\t"
            "cmovncq %[s1], %[t1]\n\t"
            "cmovncq %[s2], %[t2]\n\t"
            "cmovncq %[s3], %[t3]\n\t"
            : [t0] "+&r"(t0), [t1] "+&r"(t1), [t2] "+&r"(t2), [t3] "+&r"(t3), [s0] "=&r"(s0),
              [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3)
            : [b0] "m"(b->v[0]), [b1] "m"(b->v[1]), [b2] "m"(b->v[2]), [b3] "m"(b->v[3]),
              [q0] "m"(FQ_Q.v[0]), [q1] "m"(FQ_Q.v[1]), [q2] "m"(FQ_Q.v[2]), [q3] "m"(FQ_Q.v[3])
            : "cc");
    r->v[0] = t0;
    r->v[1] = t1;
    r->v[2] = t2;
    r->v[3] = t3;
}

static inline void fq_sub(fq *r, const fq *a, const fq *b) {
    uint64_t t0 = a->v[0], t1 = a->v[1], t2 = a->v[2], t3 = a->v[3], m, s0, s1, s2, s3;
    __asm__("subq %[b0], %[t0]\n\t"
            "sbbq %[b1], %[t1]\n\t"
            "sbbq %[b2], %[t2]\n\t"
            "sbbq %[b3], %[t3]\n\t"
            "sbbq %[m], %[m]\n\t"
            "movq %[q0], %[s0]\n\t"
            "movq %[q1], %[s1]\n\t"
            "movq %[q2], %[s2]\n\t"
            "movq %[q3], %[s3]\n\t"
            "andq %[m], %[s0]\n\t"
            "andq %[m], %[s1]\n\t"
            "andq %[m], %[s2]\n\t"
            "andq %[m], %[s3]\n\t"
            "addq %[s0], %[t0]\n\t"
            "adcq %[s1], %[t1]\n\t"
            "adcq %[s2], %[t2]\n\t"
            "adcq %[s3], %[t3]\n\t"
            : [t0] "+&r"(t0), [t1] "+&r"(t1), [t2] "+&r"(t2), [t3] "+&r"(t3), [m] "=&r"(m),
              [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3)
            : [b0] "m"(b->v[0]), [b1] "m"(b->v[1]), [b2] "m"(b->v[2]), [b3] "m"(b->v[3]),
              [q0] "m"(FQ_Q.v[0]), [q1] "m"(FQ_Q.v[1]), [q2] "m"(FQ_Q.v[2]), [q3] "m"(FQ_Q.v[3])
            : "cc");
    r->v[0] = t0;
    r->v[1] = t1;
    r->v[2] = t2;
    r->v[3] = t3;
}

/* t(u0..u3) += a·b[off/8] with the carry word in u4 (zeroed here). */
#define MULACC(off, u0, u1, u2, u3, u4)             \
    "movq " #off "(%[b]), %%rdx\n\t"                \
    "xorl %k[" #u4 "], %k[" #u4 "]\n\t"             \
    "mulxq 0(%[a]), %[lo], %[hi]\n\t"               \
    "adoxq %[lo], %[" #u0 "]\n\t"                   \
    "adcxq %[hi], %[" #u1 "]\n\t"                   \
    "mulxq 8(%[a]), %[lo], %[hi]\n\t"               \
    "adoxq %[lo], %[" #u1 "]\n\t"                   \
    "adcxq %[hi], %[" #u2 "]\n\t"                   \
    "mulxq 16(%[a]), %[lo], %[hi]\n\t"              \
    "adoxq %[lo], %[" #u2 "]\n\t"                   \
    "adcxq %[hi], %[" #u3 "]\n\t"                   \
    "mulxq 24(%[a]), %[lo], %[hi]\n\t"              \
    "adoxq %[lo], %[" #u3 "]\n\t"                   \
    "adcxq %[hi], %[" #u4 "]\n\t"                   \
    "adoxq %[zero], %[" #u4 "]\n\t"

/* t = (t + m·q) / 2^64 with m = u0·N0: afterwards t = (u1, u2, u3, u4). */
#define REDUCE(u0, u1, u2, u3, u4)                  \
    "movq %[" #u0 "], %%rdx\n\t"                    \
    "imulq %[n0], %%rdx\n\t"                        \
    "xorl %k[lo], %k[lo]\n\t"                       \
    "mulxq %[q0], %[lo], %[hi]\n\t"                 \
    "adoxq %[lo], %[" #u0 "]\n\t"                   \
    "adcxq %[hi], %[" #u1 "]\n\t"                   \
    "mulxq %[q1], %[lo], %[hi]\n\t"                 \
    "adoxq %[lo], %[" #u1 "]\n\t"                   \
    "adcxq %[hi], %[" #u2 "]\n\t"                   \
    "mulxq %[q2], %[lo], %[hi]\n\t"                 \
    "adoxq %[lo], %[" #u2 "]\n\t"                   \
    "adcxq %[hi], %[" #u3 "]\n\t"                   \
    "mulxq %[q3], %[lo], %[hi]\n\t"                 \
    "adoxq %[lo], %[" #u3 "]\n\t"                   \
    "adcxq %[hi], %[" #u4 "]\n\t"                   \
    "adoxq %[zero], %[" #u4 "]\n\t"

/* Montgomery product a·b·2^-256 mod q for a, b < q (CIOS; q < 2^255 so no extra carry word). */
static inline void fq_mul(fq *r, const fq *a, const fq *b) {
    uint64_t r0, r1, r2, r3, r4, lo, hi, dx;
    __asm__(
        "xorl %k[r0], %k[r0]\n\t"
        "xorl %k[r1], %k[r1]\n\t"
        "xorl %k[r2], %k[r2]\n\t"
        "xorl %k[r3], %k[r3]\n\t"
        MULACC(0, r0, r1, r2, r3, r4) REDUCE(r0, r1, r2, r3, r4)
        MULACC(8, r1, r2, r3, r4, r0) REDUCE(r1, r2, r3, r4, r0)
        MULACC(16, r2, r3, r4, r0, r1) REDUCE(r2, r3, r4, r0, r1)
        MULACC(24, r3, r4, r0, r1, r2) REDUCE(r3, r4, r0, r1, r2)
        /* result (r4, r0, r1, r2) < 2q: subtract q unless that borrows */
        "movq %[r4], %[lo]\n\t"
        "movq %[r0], %[hi]\n\t"
        "movq %[r1], %%rdx\n\t"
        "movq %[r2], %[r3]\n\t"
        "subq %[q0], %[lo]\n\t"
        "sbbq %[q1], %[hi]\n\t"
        "sbbq %[q2], %%rdx\n\t"
        "sbbq %[q3], %[r3]\n\t"
        "cmovncq %[lo], %[r4]\n\t"
        "cmovncq %[hi], %[r0]\n\t"
        "cmovncq %%rdx, %[r1]\n\t"
        "cmovncq %[r3], %[r2]\n\t"
        : [r0] "=&r"(r0), [r1] "=&r"(r1), [r2] "=&r"(r2), [r3] "=&r"(r3), [r4] "=&r"(r4),
          [lo] "=&r"(lo), [hi] "=&r"(hi), "=&d"(dx)
        : [a] "r"(a->v), [b] "r"(b->v), [zero] "r"((uint64_t)0), [n0] "m"(N0_MEM),
          [q0] "m"(FQ_Q.v[0]), [q1] "m"(FQ_Q.v[1]), [q2] "m"(FQ_Q.v[2]), [q3] "m"(FQ_Q.v[3]),
          "m"(*(const uint64_t(*)[4])a->v), "m"(*(const uint64_t(*)[4])b->v)
        : "cc");
    r->v[0] = r4;
    r->v[1] = r0;
    r->v[2] = r1;
    r->v[3] = r2;
}
#undef MULACC
#undef REDUCE

#else /* portable C */

static inline void fq_add(fq *r, const fq *a, const fq *b) {
    uint64_t t[4], s[4];
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c = (u128)a->v[i] + b->v[i] + (uint64_t)(c >> 64);
        t[i] = (uint64_t)c;
    }
    uint64_t borrow = sub4(s, t, FQ_Q.v);
    uint64_t keep = (uint64_t)0 - borrow; /* all ones: t < q, keep t */
    for (int i = 0; i < 4; i++) r->v[i] = (t[i] & keep) | (s[i] & ~keep);
}

static inline void fq_sub(fq *r, const fq *a, const fq *b) {
    uint64_t t[4];
    uint64_t borrow = sub4(t, a->v, b->v);
    uint64_t mask = (uint64_t)0 - borrow;
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c = (u128)t[i] + (FQ_Q.v[i] & mask) + (uint64_t)(c >> 64);
        r->v[i] = (uint64_t)c;
    }
}

/* Montgomery product a·b·2^-256 mod q for a, b < q (CIOS, no extra carry word since q < 2^255). */
static inline void fq_mul(fq *r, const fq *a, const fq *b) {
    uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    const uint64_t a0 = a->v[0], a1 = a->v[1], a2 = a->v[2], a3 = a->v[3];
    for (int i = 0; i < 4; i++) {
        const uint64_t bi = b->v[i];
        u128 A = (u128)a0 * bi + t0;
        const uint64_t lo = (uint64_t)A;
        const uint64_t m = lo * N0;
        u128 C = (u128)m * Q0 + lo;
        A = (u128)a1 * bi + t1 + (uint64_t)(A >> 64);
        C = (u128)m * Q1 + (uint64_t)A + (uint64_t)(C >> 64);
        t0 = (uint64_t)C;
        A = (u128)a2 * bi + t2 + (uint64_t)(A >> 64);
        C = (u128)m * Q2 + (uint64_t)A + (uint64_t)(C >> 64);
        t1 = (uint64_t)C;
        A = (u128)a3 * bi + t3 + (uint64_t)(A >> 64);
        C = (u128)m * Q3 + (uint64_t)A + (uint64_t)(C >> 64);
        t2 = (uint64_t)C;
        t3 = (uint64_t)(C >> 64) + (uint64_t)(A >> 64);
    }
    uint64_t t[4] = {t0, t1, t2, t3}, s[4];
    uint64_t borrow = sub4(s, t, FQ_Q.v);
    uint64_t keep = (uint64_t)0 - borrow;
    for (int i = 0; i < 4; i++) r->v[i] = (t[i] & keep) | (s[i] & ~keep);
}

#endif

static inline void fq_dbl(fq *r, const fq *a) { fq_add(r, a, a); }

/* r = 5·a */
static inline void fq_mul5(fq *r, const fq *a) {
    fq t;
    fq_add(&t, a, a);
    fq_add(&t, &t, &t);
    fq_add(r, &t, a);
}

static inline void fq_sqr(fq *r, const fq *a) { fq_mul(r, a, a); }

static inline void fq_neg(fq *r, const fq *a) { fq_sub(r, &FQ_ZERO, a); }

/* r = neg ? -a : a, without a branch (mask is 0 or all ones). */
static inline void fq_cneg(fq *r, const fq *a, uint64_t mask) {
    fq n;
    fq_neg(&n, a);
    for (int i = 0; i < 4; i++) r->v[i] = (n.v[i] & mask) | (a->v[i] & ~mask);
}

static inline void fq_to_mont(fq *r, const fq *a) { fq_mul(r, a, &FQ_R2); }

static inline void fq_from_mont(fq *r, const fq *a) {
    static const fq one_plain = {{1, 0, 0, 0}};
    fq_mul(r, a, &one_plain);
}

/* Any 32 LE bytes → the plain integer reduced mod q (at most two subtractions since 2^256 < 3q). */
static inline void fq_load_raw(fq *r, const uint8_t *le) {
    memcpy(r->v, le, 32);
    while (geq4(r->v, FQ_Q.v)) sub4(r->v, r->v, FQ_Q.v);
}

/* a^e for a plain exponent e (4-bit fixed window). */
static void fq_pow(fq *r, const fq *a, const fq *e) {
    fq tab[16];
    tab[0] = FQ_ONE;
    tab[1] = *a;
    for (int i = 2; i < 16; i++) fq_mul(&tab[i], &tab[i - 1], a);
    fq acc = FQ_ONE;
    int started = 0;
    for (int i = 63; i >= 0; i--) {
        unsigned nib = (unsigned)(e->v[i / 16] >> ((i % 16) * 4)) & 15u;
        if (started) {
            fq_sqr(&acc, &acc);
            fq_sqr(&acc, &acc);
            fq_sqr(&acc, &acc);
            fq_sqr(&acc, &acc);
        }
        if (nib) {
            if (started) {
                fq_mul(&acc, &acc, &tab[nib]);
            } else {
                acc = tab[nib];
                started = 1;
            }
        }
    }
    *r = acc;
}

static inline void fq_inv(fq *r, const fq *a) { fq_pow(r, a, &EXP_QM2); } /* 0 ↦ 0 */

/* Montgomery's trick, zero-safe (zeros map to zero like pow(0, q-2)). out may alias in. */
static void fq_batch_inv(fq *out, const fq *in, size_t n, fq *scratch) {
    fq acc = FQ_ONE;
    for (size_t i = 0; i < n; i++) {
        scratch[i] = acc;
        if (!fq_is_zero(&in[i])) fq_mul(&acc, &acc, &in[i]);
    }
    fq inv;
    fq_inv(&inv, &acc);
    for (size_t i = n; i-- > 0;) {
        if (fq_is_zero(&in[i])) {
            out[i] = FQ_ZERO;
            continue;
        }
        fq t;
        fq_mul(&t, &inv, &scratch[i]);
        fq_mul(&inv, &inv, &in[i]);
        out[i] = t;
    }
}

/* Square roots (2-adicity 32). c = FQ_NR_ROOT generates the subgroup G of order 2^32, g = c^(2^24) its
 * subgroup of order 2^8. For a ≠ 0, t = a^odd lies in G, and a is a square iff t = c^k with k even; then
 * x = a^((odd+1)/2) satisfies x² = a·t, so x·c^(−k/2) is a root. k is found a byte at a time from the
 * powers t^(2^24), t^(2^16), t^(2^8), t (each byte's lookup in the 256 powers of g), with the earlier
 * bytes divided out by table products — 24 squarings instead of Tonelli–Shanks' ~250. */
static fq SQRT_TAB[4][256]; /* SQRT_TAB[i][j] = c^(−j·2^(8i)) */
static uint16_t SQRT_LOG[1024]; /* open addressing on g^j's low limb: j + 1, 0 = empty */
static pthread_once_t g_sqrt_once = PTHREAD_ONCE_INIT;

static inline unsigned sqrt_slot(const fq *a) { return (unsigned)((a->v[0] * 0x9E3779B97F4A7C15ULL) >> 54); }

static void sqrt_init(void) {
    fq step;
    fq_inv(&step, &FQ_NR_ROOT); /* c^−1 */
    for (int i = 0; i < 4; i++) {
        SQRT_TAB[i][0] = FQ_ONE;
        for (int j = 1; j < 256; j++) fq_mul(&SQRT_TAB[i][j], &SQRT_TAB[i][j - 1], &step);
        for (int b = 0; b < 8; b++) fq_sqr(&step, &step); /* c^(−2^(8(i+1))) */
    }
    for (int j = 0; j < 256; j++) { /* g^j = c^(j·2^24) = SQRT_TAB[3][(256 − j) mod 256] */
        const fq *e = &SQRT_TAB[3][(256 - j) & 255];
        unsigned h = sqrt_slot(e);
        while (SQRT_LOG[h]) h = (h + 1) & 1023;
        SQRT_LOG[h] = (uint16_t)(j + 1);
    }
}

/* j with g^j = a, or −1 when a is not a power of g. */
static inline int sqrt_log(const fq *a) {
    for (unsigned h = sqrt_slot(a);; h = (h + 1) & 1023) {
        unsigned j = SQRT_LOG[h];
        if (!j) return -1;
        const fq *e = &SQRT_TAB[3][(256 - (j - 1)) & 255];
        if (fq_eq(e, a)) return (int)j - 1;
    }
}

/* The powers a root needs: x = a^((odd+1)/2) and s[i] = t^(2^(8i)) for t = a^odd. */
__attribute__((unused)) /* the IFMA build takes them eight lanes at a time */
static void sqrt_powers(fq *x, fq s[4], const fq *a) {
    fq z;
    fq_pow(&z, a, &EXP_ODDM1H); /* a^((odd-1)/2) */
    fq_mul(x, a, &z);           /* a^((odd+1)/2) */
    fq_mul(&s[0], x, &z);       /* t = a^odd */
    for (int i = 1; i < 4; i++) {
        s[i] = s[i - 1];
        for (int b = 0; b < 8; b++) fq_sqr(&s[i], &s[i]); /* t^(2^(8i)) */
    }
}

/* Returns 1 and a root of a in *r when a is a square, else 0, from `sqrt_powers` of a (x and s). */
static int sqrt_finish(fq *r, const fq *a, fq x, const fq s[4]) {
    if (fq_is_zero(a)) {
        *r = FQ_ZERO;
        return 1;
    }
    pthread_once(&g_sqrt_once, sqrt_init);
    int k[4];
    for (int i = 0; i < 4; i++) { /* byte i of k: (t·c^−(bytes below i))^(2^(8(3−i))) = g^k_i */
        fq u = s[3 - i];
        for (int b = 0; b < i; b++) fq_mul(&u, &u, &SQRT_TAB[3 - i + b][k[b]]);
        k[i] = sqrt_log(&u);
        if (k[i] < 0 || (i == 0 && (k[0] & 1))) return 0; /* odd k: a is a non-residue */
    }
    uint32_t m = ((uint32_t)k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 24) >> 1;
    for (int i = 0; i < 4; i++) fq_mul(&x, &x, &SQRT_TAB[i][(m >> (8 * i)) & 255]); /* x·c^(−k/2) */
    *r = x;
    return 1;
}

/* 1 when a (Montgomery form) is a non-zero square, else 0: the Jacobi symbol (a/q) by the binary
 * algorithm (q is prime, so it is the Legendre symbol a^((q−1)/2)). */
__attribute__((unused)) /* idem */
static int fq_is_nonzero_square(const fq *a) {
    fq p;
    fq_from_mont(&p, a);
    uint64_t x[4] = {p.v[0], p.v[1], p.v[2], p.v[3]}, n[4] = {FQ_Q.v[0], FQ_Q.v[1], FQ_Q.v[2], FQ_Q.v[3]};
    int t = 1;
    if (!(x[0] | x[1] | x[2] | x[3])) return 0;
    for (;;) {
        /* x = x / 2^k with k = trailing zeros; each halving flips t when n ≡ 3, 5 (mod 8) */
        int k = 0;
        while (x[0] == 0) {
            x[0] = x[1], x[1] = x[2], x[2] = x[3], x[3] = 0;
            k += 64;
        }
        int s = __builtin_ctzll(x[0]);
        if (s) {
            x[0] = (x[0] >> s) | (x[1] << (64 - s));
            x[1] = (x[1] >> s) | (x[2] << (64 - s));
            x[2] = (x[2] >> s) | (x[3] << (64 - s));
            x[3] >>= s;
            k += s;
        }
        if ((k & 1) && ((n[0] & 7) == 3 || (n[0] & 7) == 5)) t = -t;
        if (x[0] == 1 && !(x[1] | x[2] | x[3])) return t == 1;
        if (!geq4(x, n)) { /* swap (quadratic reciprocity): flips when both are 3 mod 4 */
            for (int i = 0; i < 4; i++) {
                uint64_t v = x[i];
                x[i] = n[i];
                n[i] = v;
            }
            if ((x[0] & 3) == 3 && (n[0] & 3) == 3) t = -t;
        }
        sub4(x, x, n); /* both odd: even, and non-zero while gcd(x, n) = 1 */
        if (!(x[0] | x[1] | x[2] | x[3])) return 0;
    }
}

/* ---------------------------------------------------------------- points */
typedef struct { fq X, Y, Z, T; } ext;
typedef struct { fq x, y, t; } aff; /* Montgomery x, y and t = d·x·y */

static inline void ext_identity(ext *p) {
    p->X = FQ_ZERO;
    p->Y = FQ_ONE;
    p->Z = FQ_ONE;
    p->T = FQ_ZERO;
}

/* r = p + (x2, y2) with t2 = d·x2·y2 (8M). r may alias p. */
static inline void ext_madd(ext *r, const ext *p, const fq *x2, const fq *y2, const fq *t2) {
    fq A, B, C, E, F, G, H, s1, s2;
    fq_mul(&A, &p->X, x2);
    fq_mul(&B, &p->Y, y2);
    fq_mul(&C, &p->T, t2);
    fq_add(&s1, &p->X, &p->Y);
    fq_add(&s2, x2, y2);
    fq_mul(&E, &s1, &s2);
    fq_sub(&E, &E, &A);
    fq_sub(&E, &E, &B);
    fq_sub(&F, &p->Z, &C);
    fq_add(&G, &p->Z, &C);
    fq_mul5(&H, &A);
    fq_add(&H, &B, &H); /* H = B - a·A with a = -5 */
    fq_mul(&r->X, &E, &F);
    fq_mul(&r->Y, &G, &H);
    fq_mul(&r->T, &E, &H);
    fq_mul(&r->Z, &F, &G);
}

/* r = p ± e (neg_mask all ones for minus). */
static inline void ext_madd_signed(ext *r, const ext *p, const aff *e, uint64_t neg_mask) {
    fq x, t;
    fq_cneg(&x, &e->x, neg_mask);
    fq_cneg(&t, &e->t, neg_mask);
    ext_madd(r, p, &x, &e->y, &t);
}

/* r = p + q, general (10M). r may alias p or q. */
static void ext_add(ext *r, const ext *p, const ext *q) {
    fq A, B, C, D, E, F, G, H, s1, s2;
    fq_mul(&A, &p->X, &q->X);
    fq_mul(&B, &p->Y, &q->Y);
    fq_mul(&C, &p->T, &q->T);
    fq_mul(&C, &C, &FQ_D);
    fq_mul(&D, &p->Z, &q->Z);
    fq_add(&s1, &p->X, &p->Y);
    fq_add(&s2, &q->X, &q->Y);
    fq_mul(&E, &s1, &s2);
    fq_sub(&E, &E, &A);
    fq_sub(&E, &E, &B);
    fq_sub(&F, &D, &C);
    fq_add(&G, &D, &C);
    fq_mul5(&H, &A);
    fq_add(&H, &B, &H);
    fq_mul(&r->X, &E, &F);
    fq_mul(&r->Y, &G, &H);
    fq_mul(&r->T, &E, &H);
    fq_mul(&r->Z, &F, &G);
}

/* r = 2p (dbl-2008-hwcd, 4M + 4S). */
static void ext_dbl(ext *r, const ext *p) {
    fq A, B, C, D, E, F, G, H, s;
    fq_sqr(&A, &p->X);
    fq_sqr(&B, &p->Y);
    fq_sqr(&C, &p->Z);
    fq_dbl(&C, &C);
    fq_mul5(&D, &A);
    fq_neg(&D, &D); /* D = a·A */
    fq_add(&s, &p->X, &p->Y);
    fq_sqr(&E, &s);
    fq_sub(&E, &E, &A);
    fq_sub(&E, &E, &B);
    fq_add(&G, &D, &B);
    fq_sub(&F, &G, &C);
    fq_sub(&H, &D, &B);
    fq_mul(&r->X, &E, &F);
    fq_mul(&r->Y, &G, &H);
    fq_mul(&r->T, &E, &H);
    fq_mul(&r->Z, &F, &G);
}

/* 64-byte storage point → extended coordinates (Z = 1). */
static inline void ext_load64(ext *p, const uint8_t *in) {
    fq x, y;
    fq_load_raw(&x, in);
    fq_load_raw(&y, in + 32);
    fq_to_mont(&p->X, &x);
    fq_to_mont(&p->Y, &y);
    p->Z = FQ_ONE;
    fq_mul(&p->T, &p->X, &p->Y);
}

static inline void aff_load64(aff *p, const uint8_t *in) {
    fq x, y;
    fq_load_raw(&x, in);
    fq_load_raw(&y, in + 32);
    fq_to_mont(&p->x, &x);
    fq_to_mont(&p->y, &y);
    fq_mul(&p->t, &p->x, &p->y);
    fq_mul(&p->t, &p->t, &FQ_D);
}

/* Affine Montgomery (x, y) → canonical positive-y storage bytes. */
static inline void store64(uint8_t *out, const fq *xm, const fq *ym) {
    fq x, y;
    fq_from_mont(&x, xm);
    fq_from_mont(&y, ym);
    if (!(geq4(y.v, FQ_HALF.v) && !fq_eq(&y, &FQ_HALF))) { /* not y > (q-1)/2 */
        fq_neg(&x, &x);
        fq_neg(&y, &y);
    }
    memcpy(out, x.v, 32);
    memcpy(out + 32, y.v, 32);
}

/* Normalise n extended points with one inversion; zs and scratch hold n elements each. */
static void ext_store_many(uint8_t *out64, const ext *p, size_t n, fq *zs, fq *scratch) {
    for (size_t i = 0; i < n; i++) zs[i] = p[i].Z;
    fq_batch_inv(zs, zs, n, scratch);
    for (size_t i = 0; i < n; i++) {
        fq x, y;
        fq_mul(&x, &p[i].X, &zs[i]);
        fq_mul(&y, &p[i].Y, &zs[i]);
        store64(out64 + 64 * i, &x, &y);
    }
}

/* ---------------------------------------------------------------- scalars */
static inline void scalar_load(uint64_t s[5], const uint8_t *le) {
    memcpy(s, le, 32);
    s[4] = 0;
    while (geq4(s, FR_R.v)) sub4(s, s, FR_R.v);
}

/* w bits (w ≤ 16) of the 5-limb s starting at bit off (off + w ≤ 320). */
static inline unsigned get_bits(const uint64_t s[5], int off, int w) {
    int li = off >> 6, sh = off & 63;
    uint64_t v = s[li] >> sh;
    if (sh + w > 64) v |= s[li + 1] << (64 - sh);
    return (unsigned)(v & ((1u << w) - 1));
}

/* Signed digits in [-(2^(w-1)-1), 2^(w-1)] with Σ d_j 2^(wj) = s; nwin·w ≥ 254 leaves no carry. */
static inline void signed_digits(int *dig, const uint64_t s[5], int w, int nwin) {
    int carry = 0, half = 1 << (w - 1), full = 1 << w;
    for (int j = 0; j < nwin; j++) {
        int v = (int)get_bits(s, j * w, w) + carry;
        if (v > half) {
            v -= full;
            carry = 1;
        } else {
            carry = 0;
        }
        dig[j] = v;
    }
}

/* signed_digits over the fixed-base windows (widths win_bits(j)). */
static inline void fixed_digits(int *dig, const uint64_t s[5]) {
    int carry = 0, off = 0;
    for (int j = 0; j < NWIN; j++) {
        const int w = win_bits(j);
        int v = (int)get_bits(s, off, w) + carry;
        off += w;
        if (v > (1 << (w - 1))) {
            v -= 1 << w;
            carry = 1;
        } else {
            carry = 0;
        }
        dig[j] = v;
    }
}

/* ---------------------------------------------------------------- threads */
typedef void (*task_fn)(void *arg, int part, int nparts);

/* A pool of worker threads started on first use and kept (a thread start costs ~20 µs of CPU and
 * a scheduling delay on a busy machine, and a batch makes dozens of parallel calls). A caller
 * claims idle workers, posts one part to each and runs the unclaimed parts itself; concurrent
 * callers (the background leaves job and the caller's thread) share the pool. After fork() the
 * child starts with an empty pool (pthread_atfork). */
#define POOL_MAX 7
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task_fn fn;
    void *arg;
    int part, nparts;
    int state; /* 0 idle, 1 posted, 2 done */
} pool_worker;

static pool_worker g_pool[POOL_MAX];
static int g_pool_started[POOL_MAX], g_pool_busy[POOL_MAX];
static pthread_mutex_t g_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_pool_once = PTHREAD_ONCE_INIT;

static void pool_prepare(void) { pthread_mutex_lock(&g_pool_lock); }
static void pool_parent(void) { pthread_mutex_unlock(&g_pool_lock); }
static void pool_child(void) {
    memset(g_pool_started, 0, sizeof g_pool_started);
    memset(g_pool_busy, 0, sizeof g_pool_busy);
    pthread_mutex_unlock(&g_pool_lock);
}
static void pool_init(void) { pthread_atfork(pool_prepare, pool_parent, pool_child); }

static void *pool_main(void *p) {
    pool_worker *w = (pool_worker *)p;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->state != 1) pthread_cond_wait(&w->cv, &w->mu);
        task_fn fn = w->fn;
        void *arg = w->arg;
        int part = w->part, nparts = w->nparts;
        pthread_mutex_unlock(&w->mu);
        fn(arg, part, nparts);
        pthread_mutex_lock(&w->mu);
        w->state = 2;
        pthread_cond_broadcast(&w->cv);
    }
    return NULL;
}

/* An idle worker (started if needed) marked busy, or -1. */
static int pool_claim(void) {
    pthread_once(&g_pool_once, pool_init);
    int got = -1;
    pthread_mutex_lock(&g_pool_lock);
    for (int i = 0; i < POOL_MAX && got < 0; i++) {
        if (g_pool_busy[i]) continue;
        if (!g_pool_started[i]) {
            pool_worker *w = &g_pool[i];
            pthread_mutex_init(&w->mu, NULL);
            pthread_cond_init(&w->cv, NULL);
            w->state = 0;
            pthread_t th;
            if (pthread_create(&th, NULL, pool_main, w) != 0) break;
            pthread_detach(th);
            g_pool_started[i] = 1;
        }
        g_pool_busy[i] = 1;
        got = i;
    }
    pthread_mutex_unlock(&g_pool_lock);
    return got;
}

static void pool_post(int i, task_fn fn, void *arg, int part, int nparts) {
    pool_worker *w = &g_pool[i];
    pthread_mutex_lock(&w->mu);
    w->fn = fn;
    w->arg = arg;
    w->part = part;
    w->nparts = nparts;
    w->state = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Wait for worker i's part and release the worker. */
static void pool_wait(int i) {
    pool_worker *w = &g_pool[i];
    pthread_mutex_lock(&w->mu);
    while (w->state != 2) pthread_cond_wait(&w->cv, &w->mu);
    w->state = 0;
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_lock(&g_pool_lock);
    g_pool_busy[i] = 0;
    pthread_mutex_unlock(&g_pool_lock);
}

/* Run fn(arg, part, nparts) for part = 0..nparts-1; part 0 (and parts no worker took) here. */
static void run_parallel(task_fn fn, void *arg, int nparts) {
    if (nparts > 8) nparts = 8;
    if (nparts < 1) nparts = 1;
    int worker[8];
    for (int i = 1; i < nparts; i++) {
        worker[i] = pool_claim();
        if (worker[i] >= 0) pool_post(worker[i], fn, arg, i, nparts);
    }
    fn(arg, 0, nparts);
    for (int i = 1; i < nparts; i++)
        if (worker[i] < 0) fn(arg, i, nparts);
    for (int i = 1; i < nparts; i++)
        if (worker[i] >= 0) pool_wait(worker[i]);
}

/* ---------------------------------------------------------------- fixed-base tables */
static aff *g_table = NULL; /* [base][win_off(window) + k-1], k = 1..2^(w-1) */
static int g_nbases = 0;
static size_t g_table_bytes = 0;

int salt_abi_version(void) { return ABI_VERSION; }
int salt_window_bits(void) { return SALT_W10 ? 10 : 9; }
size_t salt_table_bytes(int n_bases) { return (size_t)n_bases * PER_BASE * sizeof(aff); }
int salt_tables_ready(void) { return g_table != NULL; }

typedef struct {
    const uint8_t *bases64;
    aff *table;
    int n_bases;
    int failed;
} build_job;

static void build_part(void *arg, int part, int nparts) {
    build_job *job = (build_job *)arg;
    const size_t per = PER_BASE;
    ext *pts = malloc(per * sizeof(ext));
    fq *zs = malloc(per * sizeof(fq));
    fq *scratch = malloc(per * sizeof(fq));
    if (!pts || !zs || !scratch) {
        job->failed = 1;
        free(pts);
        free(zs);
        free(scratch);
        return;
    }
    for (int g = part; g < job->n_bases; g += nparts) {
        ext base;
        ext_load64(&base, job->bases64 + 64 * (size_t)g);
        for (int j = 0; j < NWIN; j++) {
            ext *row = pts + win_off(j);
            const int half = 1 << (win_bits(j) - 1);
            row[0] = base;
            for (int k = 1; k < half; k++) ext_add(&row[k], &row[k - 1], &base);
            ext_dbl(&base, &row[half - 1]); /* 2^w · previous base */
        }
        for (size_t i = 0; i < per; i++) zs[i] = pts[i].Z;
        fq_batch_inv(zs, zs, per, scratch);
        aff *out = job->table + (size_t)g * per;
        for (size_t i = 0; i < per; i++) {
            fq_mul(&out[i].x, &pts[i].X, &zs[i]);
            fq_mul(&out[i].y, &pts[i].Y, &zs[i]);
            fq_mul(&out[i].t, &out[i].x, &out[i].y);
            fq_mul(&out[i].t, &out[i].t, &FQ_D);
        }
    }
    free(pts);
    free(zs);
    free(scratch);
}

int salt_tables_init(const uint8_t *bases64, int n_bases, int n_threads) {
    if (g_table) return 0;
    if (n_bases <= 0 || n_bases > 256) return SALT_EINDEX;
    size_t bytes = salt_table_bytes(n_bases);
    const size_t huge = (size_t)2 << 20;
    size_t alloc_bytes = (bytes + huge - 1) / huge * huge;
    void *mem = NULL;
    if (posix_memalign(&mem, huge, alloc_bytes) != 0) return SALT_ENOMEM;
#ifdef MADV_HUGEPAGE
    madvise(mem, alloc_bytes, MADV_HUGEPAGE); /* fewer TLB misses on random table reads */
#endif
    build_job job = {bases64, (aff *)mem, n_bases, 0};
    run_parallel(build_part, &job, n_threads);
    if (job.failed) {
        free(mem);
        return SALT_ENOMEM;
    }
    g_table_bytes = bytes;
    g_nbases = n_bases;
    __atomic_store_n(&g_table, (aff *)mem, __ATOMIC_RELEASE);
    return 0;
}

/* ---------------------------------------------------------------- commit_deltas */
#define PREFETCH_AHEAD 4

typedef struct {
    const uint8_t *olds64;
    size_t n_nodes;
    const size_t *offs; /* n_nodes + 1 prefix sums of counts */
    const uint8_t *indices;
    const uint8_t *scalars32;
    uint8_t *out64;
    ext *acc;
    fq *zs, *scratch;
    const size_t *chunks; /* n_chunks + 1 node bounds */
    size_t n_chunks;
    size_t next;          /* next chunk to take (atomic) */
    int failed;
} commit_job;

static inline void prefetch_entry(const aff *e) {
    __builtin_prefetch(e, 0, 0);
    __builtin_prefetch((const char *)e + sizeof(aff) - 1, 0, 0);
}

/* Table operations (entry index | sign bit) of deltas k0..k1-1, appended at ops[*n]; 0 or SALT_ENOMEM. */
static int build_ops(const uint8_t *indices, const uint8_t *scalars32, size_t k0, size_t k1,
                     uint32_t **ops_p, size_t *cap_p, size_t *n) {
    size_t need = *n + (k1 - k0) * NWIN;
    if (need > *cap_p) {
        size_t ncap = need > 2 * *cap_p ? need : 2 * *cap_p;
        uint32_t *nops = realloc(*ops_p, ncap * sizeof(uint32_t));
        if (!nops) return SALT_ENOMEM;
        *ops_p = nops;
        *cap_p = ncap;
    }
    uint32_t *ops = *ops_p;
    size_t nops = *n;
    for (size_t k = k0; k < k1; k++) {
        uint64_t s[5];
        int dig[NWIN];
        scalar_load(s, scalars32 + 32 * k);
        fixed_digits(dig, s);
        const uint32_t base = (uint32_t)indices[k] * (uint32_t)PER_BASE;
        for (int j = 0; j < NWIN; j++) {
            int d = dig[j];
            if (d == 0) continue;
            uint32_t neg = d < 0 ? 0x80000000u : 0u;
            uint32_t mag = (uint32_t)(d < 0 ? -d : d);
            ops[nops++] = (base + (uint32_t)win_off(j) + mag - 1) | neg;
        }
    }
    *n = nops;
    return 0;
}

#if defined(__AVX512IFMA__) && defined(__AVX512F__) && defined(__AVX512DQ__) && !defined(SALT_NO_IFMA)
/* Eight additions at once with AVX-512 IFMA: F_q in 5 limbs of 52 bits (lazily reduced, < 7q), as
 * Montgomery residues with R' = 2^260. The 4×64-bit limbs of a value a·2^256 (our Montgomery form)
 * are read unchanged, so they stand for a/16: points keep all four coordinates scaled alike (the
 * same projective point), and a table entry (x, y, d·x·y) is the point (x/16 : y/16 : 1/16 : dxy/16),
 * whence D = Z1·Z2 = Z1/16 in the addition below. Bounds (κ = q/2^260 < 0.029, outputs of a product
 * of αq and βq are < (αβκ + 1)q): coordinates stay < 2q, every product input < 7q. */
#include <immintrin.h>
typedef __m512i v8;
typedef struct { v8 l[5]; } vfq;
typedef struct { vfq X, Y, Z, T; } vext;

#define M52 0xfffffffffffffULL
static const uint64_t QL[5] = {0xfffff00000001ULL, 0x2fffe5bfefffULL, 0x9a1d80553bda4ULL, 0x7d483339d8080ULL,
                               0x73eda753299dULL};
static const uint64_t Q2L[5] = {0xffffe00000002ULL, 0x5fffcb7fdfffULL, 0x343b00aa77b48ULL, 0xfa906673b0101ULL,
                                0xe7db4ea6533aULL};
static const uint64_t Q3L[5] = {0xffffd00000003ULL, 0x8fffb13fcfffULL, 0xce5880ffb38ecULL, 0x77d899ad88181ULL,
                                0x15bc8f5f97cd8ULL};
#define VN0 0xffffeffffffffULL /* -q^-1 mod 2^52 */

static inline v8 bc(uint64_t x) { return _mm512_set1_epi64((long long)x); }

/* Carry-propagate signed limbs into 52-bit ones (the value must be ≥ 0 and < 2^260). */
static inline void vnorm(vfq *r) {
    const v8 m = bc(M52);
    for (int j = 0; j < 4; j++) {
        r->l[j + 1] = _mm512_add_epi64(r->l[j + 1], _mm512_srai_epi64(r->l[j], 52));
        r->l[j] = _mm512_and_si512(r->l[j], m);
    }
}

static inline void vmul(vfq *r, const vfq *a, const vfq *b) {
    const v8 z = _mm512_setzero_si512(), n0 = bc(VN0);
    const v8 q0 = bc(QL[0]), q1 = bc(QL[1]), q2 = bc(QL[2]), q3 = bc(QL[3]), q4 = bc(QL[4]);
    v8 t0 = z, t1 = z, t2 = z, t3 = z, t4 = z, t5;
    for (int i = 0; i < 5; i++) {
        const v8 bi = b->l[i];
        t5 = z;
        t0 = _mm512_madd52lo_epu64(t0, a->l[0], bi);
        t1 = _mm512_madd52hi_epu64(t1, a->l[0], bi);
        t1 = _mm512_madd52lo_epu64(t1, a->l[1], bi);
        t2 = _mm512_madd52hi_epu64(t2, a->l[1], bi);
        t2 = _mm512_madd52lo_epu64(t2, a->l[2], bi);
        t3 = _mm512_madd52hi_epu64(t3, a->l[2], bi);
        t3 = _mm512_madd52lo_epu64(t3, a->l[3], bi);
        t4 = _mm512_madd52hi_epu64(t4, a->l[3], bi);
        t4 = _mm512_madd52lo_epu64(t4, a->l[4], bi);
        t5 = _mm512_madd52hi_epu64(t5, a->l[4], bi);
        const v8 m = _mm512_madd52lo_epu64(z, t0, n0);
        t0 = _mm512_madd52lo_epu64(t0, m, q0);
        t1 = _mm512_madd52hi_epu64(t1, m, q0);
        t1 = _mm512_madd52lo_epu64(t1, m, q1);
        t2 = _mm512_madd52hi_epu64(t2, m, q1);
        t2 = _mm512_madd52lo_epu64(t2, m, q2);
        t3 = _mm512_madd52hi_epu64(t3, m, q2);
        t3 = _mm512_madd52lo_epu64(t3, m, q3);
        t4 = _mm512_madd52hi_epu64(t4, m, q3);
        t4 = _mm512_madd52lo_epu64(t4, m, q4);
        t5 = _mm512_madd52hi_epu64(t5, m, q4);
        t0 = _mm512_add_epi64(t1, _mm512_srli_epi64(t0, 52));
        t1 = t2;
        t2 = t3;
        t3 = t4;
        t4 = t5;
    }
    r->l[0] = t0;
    r->l[1] = t1;
    r->l[2] = t2;
    r->l[3] = t3;
    r->l[4] = t4;
    vnorm(r);
}

static inline void vadd(vfq *r, const vfq *a, const vfq *b) {
    for (int j = 0; j < 5; j++) r->l[j] = _mm512_add_epi64(a->l[j], b->l[j]);
    vnorm(r);
}

/* r = a + k·q − b − c (kq = limbs of k·q; c may be NULL). */
static inline void vsub(vfq *r, const vfq *a, const uint64_t *kq, const vfq *b, const vfq *c) {
    for (int j = 0; j < 5; j++) {
        v8 v = _mm512_sub_epi64(_mm512_add_epi64(a->l[j], bc(kq[j])), b->l[j]);
        r->l[j] = c ? _mm512_sub_epi64(v, c->l[j]) : v;
    }
    vnorm(r);
}

/* r = b + 5a */
static inline void vadd5(vfq *r, const vfq *a, const vfq *b) {
    for (int j = 0; j < 5; j++)
        r->l[j] = _mm512_add_epi64(b->l[j], _mm512_add_epi64(a->l[j], _mm512_slli_epi64(a->l[j], 2)));
    vnorm(r);
}

/* r = a / 16: add k·q (k = −a mod 16, q ≡ 1 mod 16) and shift right by 4. */
static inline void vdiv16(vfq *r, const vfq *a) {
    const v8 k = _mm512_and_si512(_mm512_sub_epi64(_mm512_setzero_si512(), a->l[0]), bc(15));
    vfq t;
    for (int j = 0; j < 5; j++) t.l[j] = _mm512_add_epi64(a->l[j], _mm512_mullo_epi64(k, bc(QL[j])));
    vnorm(&t);
    for (int j = 0; j < 4; j++)
        r->l[j] = _mm512_or_si512(_mm512_srli_epi64(t.l[j], 4),
                                  _mm512_slli_epi64(_mm512_and_si512(t.l[j + 1], bc(15)), 48));
    r->l[4] = _mm512_srli_epi64(t.l[4], 4);
}

/* The add-2008-hwcd tail (a = −5): the sum's coordinates from A = X1·X2, B = Y1·Y2, C = d·T1·T2, D = Z1·Z2
 * and s1 = X1 + Y1, s2 = X2 + Y2. */
static inline void vext_sum(vext *r, const vfq *A, const vfq *B, const vfq *C, const vfq *D, const vfq *s1,
                            const vfq *s2) {
    vfq E, F, G, H;
    vmul(&E, s1, s2);
    vsub(&E, &E, Q3L, A, B);
    vsub(&F, D, Q2L, C, NULL);
    vadd(&G, D, C);
    vadd5(&H, A, B);
    vmul(&r->X, &E, &F);
    vmul(&r->Y, &G, &H);
    vmul(&r->T, &E, &H);
    vmul(&r->Z, &F, &G);
}

/* r = p + (x2/16 : y2/16 : 1/16 : t2/16) (see above); the ext_madd formulas with D = Z1/16. */
static inline void vmadd(vext *r, const vext *p, const vfq *x2, const vfq *y2, const vfq *t2) {
    vfq A, B, C, D, s1, s2;
    vmul(&A, &p->X, x2);
    vmul(&B, &p->Y, y2);
    vmul(&C, &p->T, t2);
    vadd(&s1, &p->X, &p->Y);
    vadd(&s2, x2, y2);
    vdiv16(&D, &p->Z);
    vext_sum(r, &A, &B, &C, &D, &s1, &s2);
}

/* 4×64-bit limbs (value < 2^256) → 5×52 */
static inline void vfrom64(vfq *r, v8 a0, v8 a1, v8 a2, v8 a3) {
    const v8 m = bc(M52);
    r->l[0] = _mm512_and_si512(a0, m);
    r->l[1] = _mm512_and_si512(_mm512_or_si512(_mm512_srli_epi64(a0, 52), _mm512_slli_epi64(a1, 12)), m);
    r->l[2] = _mm512_and_si512(_mm512_or_si512(_mm512_srli_epi64(a1, 40), _mm512_slli_epi64(a2, 24)), m);
    r->l[3] = _mm512_and_si512(_mm512_or_si512(_mm512_srli_epi64(a2, 28), _mm512_slli_epi64(a3, 36)), m);
    r->l[4] = _mm512_srli_epi64(a3, 16);
}

/* Lane staging: 4 coordinates × 5 limbs × 8 lanes. */
typedef struct { uint64_t c[4][5][8]; } lanes;

static void lane_put(lanes *s, int k, const ext *p) {
    const fq *co[4] = {&p->X, &p->Y, &p->Z, &p->T};
    for (int c = 0; c < 4; c++) {
        const uint64_t *a = co[c]->v;
        s->c[c][0][k] = a[0] & M52;
        s->c[c][1][k] = ((a[0] >> 52) | (a[1] << 12)) & M52;
        s->c[c][2][k] = ((a[1] >> 40) | (a[2] << 24)) & M52;
        s->c[c][3][k] = ((a[2] >> 28) | (a[3] << 36)) & M52;
        s->c[c][4][k] = a[3] >> 16;
    }
}

/* Lane k (normalised limbs, value < 2q) → canonical 4×64 limbs. */
static void lane_get(const lanes *s, int k, ext *p) {
    fq *co[4] = {&p->X, &p->Y, &p->Z, &p->T};
    for (int c = 0; c < 4; c++) {
        const uint64_t l0 = s->c[c][0][k], l1 = s->c[c][1][k], l2 = s->c[c][2][k], l3 = s->c[c][3][k],
                       l4 = s->c[c][4][k];
        uint64_t *a = co[c]->v;
        a[0] = l0 | (l1 << 52);
        a[1] = (l1 >> 12) | (l2 << 40);
        a[2] = (l2 >> 24) | (l3 << 28);
        a[3] = (l3 >> 36) | (l4 << 16);
        if (geq4(a, FQ_Q.v)) sub4(a, a, FQ_Q.v);
    }
}

static void vext_store(lanes *s, const vext *v) {
    const vfq *co[4] = {&v->X, &v->Y, &v->Z, &v->T};
    for (int c = 0; c < 4; c++)
        for (int j = 0; j < 5; j++) _mm512_store_si512((void *)s->c[c][j], co[c]->l[j]);
}

static void vext_load(vext *v, const lanes *s) {
    vfq *co[4] = {&v->X, &v->Y, &v->Z, &v->T};
    for (int c = 0; c < 4; c++)
        for (int j = 0; j < 5; j++) co[c]->l[j] = _mm512_load_si512((const void *)s->c[c][j]);
}

#define TASK_OPS 208 /* a node's operations are cut into tasks of at most this many (8 lanes busy) */
#define VPREFETCH 2  /* steps ahead */

/* res[t] = starts[t] + Σ table ops toff[t]..toff[t+1]-1, eight tasks at a time. */
static void run_tasks(const aff *table, ext *res, const ext *starts, size_t ntasks, const uint32_t *ops,
                      const size_t *toff) {
    const long long *tb = (const long long *)table;
    static __thread lanes st __attribute__((aligned(64)));
    vext acc;
    long task[8];
    size_t pos[8], end[8];
    size_t next = 0;
    for (int k = 0; k < 8; k++) task[k] = -1;
    memset(&st, 0, sizeof st);
    vext_load(&acc, &st);
    for (;;) {
        int refill = 0;
        for (int k = 0; k < 8; k++)
            if (task[k] < 0 ? next < ntasks : pos[k] == end[k]) refill = 1;
        if (refill) {
            vext_store(&st, &acc);
            for (int k = 0; k < 8; k++) {
                if (task[k] >= 0 && pos[k] < end[k]) continue;
                if (task[k] >= 0) lane_get(&st, k, &res[task[k]]);
                task[k] = -1;
                while (next < ntasks && toff[next] == toff[next + 1]) {
                    res[next] = starts[next];
                    next++;
                }
                if (next < ntasks) {
                    lane_put(&st, k, &starts[next]);
                    task[k] = (long)next;
                    pos[k] = toff[next];
                    end[k] = toff[next + 1];
                    next++;
                }
            }
            vext_load(&acc, &st);
        }
        __mmask8 act = 0, neg = 0;
        long long ix[8] __attribute__((aligned(64)));
        for (int k = 0; k < 8; k++) {
            if (task[k] < 0) {
                ix[k] = 0;
                continue;
            }
            const uint32_t op = ops[pos[k]];
            if (pos[k] + VPREFETCH < end[k]) prefetch_entry(&table[ops[pos[k] + VPREFETCH] & 0x7fffffffu]);
            pos[k]++;
            ix[k] = (long long)(op & 0x7fffffffu) * 12;
            act |= (__mmask8)(1u << k);
            if (op >> 31) neg |= (__mmask8)(1u << k);
        }
        if (!act) break;
        const v8 vi = _mm512_load_si512((const void *)ix);
        v8 g[12];
        for (int w = 0; w < 12; w++) g[w] = _mm512_i64gather_epi64(_mm512_add_epi64(vi, bc((uint64_t)w)), tb, 8);
        vfq x, y, t, nx, nt;
        vfrom64(&x, g[0], g[1], g[2], g[3]);
        vfrom64(&y, g[4], g[5], g[6], g[7]);
        vfrom64(&t, g[8], g[9], g[10], g[11]);
        if (neg) {
            vfq zero;
            for (int j = 0; j < 5; j++) zero.l[j] = _mm512_setzero_si512();
            vsub(&nx, &zero, QL, &x, NULL);
            vsub(&nt, &zero, QL, &t, NULL);
            for (int j = 0; j < 5; j++) {
                x.l[j] = _mm512_mask_blend_epi64(neg, x.l[j], nx.l[j]);
                t.l[j] = _mm512_mask_blend_epi64(neg, t.l[j], nt.l[j]);
            }
        }
        vext nw;
        vmadd(&nw, &acc, &x, &y, &t);
        vfq *a4[4] = {&acc.X, &acc.Y, &acc.Z, &acc.T};
        const vfq *n4[4] = {&nw.X, &nw.Y, &nw.Z, &nw.T};
        for (int c = 0; c < 4; c++)
            for (int j = 0; j < 5; j++) a4[c]->l[j] = _mm512_mask_blend_epi64(act, a4[c]->l[j], n4[c]->l[j]);
    }
}

#define SALT_IFMA 1

/* Coordinate at byte `off` of points 8j..8j+7 (index clamped to n − 1), reduced mod q; 1 when one is 0. */
static int m2s_load8(vfq *r, const uint8_t *points64, size_t n, size_t j, int off) {
    uint64_t l[4][8] __attribute__((aligned(64)));
    int zero = 0;
    for (int k = 0; k < 8; k++) {
        const size_t i = 8 * j + (size_t)k < n ? 8 * j + (size_t)k : n - 1;
        fq v;
        fq_load_raw(&v, points64 + 64 * i + off);
        zero |= fq_is_zero(&v);
        for (int w = 0; w < 4; w++) l[w][k] = v.v[w];
    }
    vfrom64(r, _mm512_load_si512((const void *)l[0]), _mm512_load_si512((const void *)l[1]),
            _mm512_load_si512((const void *)l[2]), _mm512_load_si512((const void *)l[3]));
    return zero;
}

/* The eight lanes of `a` (normalised limbs, value < 2q) as canonical 4×64 limbs. */
static void m2s_get8(const vfq *a, fq out[8]) {
    uint64_t l[5][8] __attribute__((aligned(64)));
    for (int j = 0; j < 5; j++) _mm512_store_si512((void *)l[j], a->l[j]);
    for (int k = 0; k < 8; k++) {
        uint64_t *v = out[k].v;
        v[0] = l[0][k] | (l[1][k] << 52);
        v[1] = (l[1][k] >> 12) | (l[2][k] << 40);
        v[2] = (l[2][k] >> 24) | (l[3][k] << 28);
        v[3] = (l[3][k] >> 36) | (l[4][k] << 16);
        if (geq4(v, FQ_Q.v)) sub4(v, v, FQ_Q.v);
    }
}

/* map_to_scalar (x/y mod q, then mod r) of n ≥ 8 points, eight at a time: lane k takes points k,
 * k + 8, ... and inverts their y by a batch inversion of its own, the eight lane products being
 * inverted together in scalar code. Here limbs V stand for V·2^-260 (R' = 2^260), so the raw
 * coordinates stand for x·2^-260 and y·2^-260, whose ratio is x/y; a product with the limbs of 1
 * gives its plain value. The scalar inverse of raw V is 2^512/V, the R' one 2^520/V (256 times it).
 * Returns 1 (nothing written) when some y is 0, SALT_ENOMEM, or 0. */
static int m2s_ifma(const uint8_t *points64, size_t n, uint8_t *out32) {
    const size_t m = (n + 7) / 8;
    vfq *pre = aligned_alloc(64, m * sizeof(vfq)); /* pre[j] = y_0 ⋯ y_{j−1} per lane (j ≥ 1) */
    if (!pre) return SALT_ENOMEM;
    vfq acc, y, x, inv, iy, v;
    int zero = 0;
    for (size_t j = 0; j < m && !zero; j++) {
        zero = m2s_load8(&y, points64, n, j, 32);
        if (j == 0) {
            acc = y;
        } else {
            pre[j] = acc;
            vmul(&acc, &acc, &y);
        }
    }
    if (zero) {
        free(pre);
        return 1;
    }
    fq tot[8], tinv[8], scratch[8];
    m2s_get8(&acc, tot);
    fq_batch_inv(tinv, tot, 8, scratch);
    uint64_t l[4][8] __attribute__((aligned(64)));
    for (int k = 0; k < 8; k++) {
        for (int d = 0; d < 8; d++) fq_dbl(&tinv[k], &tinv[k]);
        for (int w = 0; w < 4; w++) l[w][k] = tinv[k].v[w];
    }
    vfrom64(&inv, _mm512_load_si512((const void *)l[0]), _mm512_load_si512((const void *)l[1]),
            _mm512_load_si512((const void *)l[2]), _mm512_load_si512((const void *)l[3]));
    vfq one;
    one.l[0] = bc(1);
    for (int j = 1; j < 5; j++) one.l[j] = _mm512_setzero_si512();
    for (size_t j = m; j-- > 0;) {
        m2s_load8(&x, points64, n, j, 0);
        if (j > 0) {
            m2s_load8(&y, points64, n, j, 32);
            vmul(&iy, &inv, &pre[j]);
            vmul(&inv, &inv, &y);
        } else {
            iy = inv;
        }
        vmul(&v, &x, &iy);
        vmul(&v, &v, &one);
        fq r8[8];
        m2s_get8(&v, r8);
        for (int k = 0; k < 8 && 8 * j + (size_t)k < n; k++) {
            while (geq4(r8[k].v, FR_R.v)) sub4(r8[k].v, r8[k].v, FR_R.v); /* Fr::from_le_bytes_mod_order */
            memcpy(out32 + 32 * (8 * j + (size_t)k), r8[k].v, 32);
        }
    }
    free(pre);
    return 0;
}

/* out[i] = starts[i] + Σ ops node_off[i]..node_off[i+1]-1 for i < n, an op being an index into `table`
 * with the sign in bit 31 (−entry when set); 0 or SALT_ENOMEM. */
static int run_ops(const aff *table, ext *out, const ext *starts, size_t n, const uint32_t *ops,
                   const size_t *node_off) {
    size_t ntasks = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = node_off[i + 1] - node_off[i];
        ntasks += len ? (len + TASK_OPS - 1) / TASK_OPS : 1;
    }
    ext *tstart = malloc(ntasks * sizeof(ext)), *tres = malloc(ntasks * sizeof(ext));
    size_t *toff = malloc((ntasks + 1) * sizeof(size_t)), *first = malloc((n + 1) * sizeof(size_t));
    if (!tstart || !tres || !toff || !first) {
        free(tstart);
        free(tres);
        free(toff);
        free(first);
        return SALT_ENOMEM;
    }
    size_t t = 0;
    for (size_t i = 0; i < n; i++) {
        size_t a = node_off[i], b = node_off[i + 1];
        size_t parts = b > a ? (b - a + TASK_OPS - 1) / TASK_OPS : 1;
        first[i] = t;
        for (size_t p = 0; p < parts; p++) {
            if (p == 0)
                tstart[t] = starts[i];
            else
                ext_identity(&tstart[t]);
            toff[t] = a + (b - a) * p / parts;
            t++;
        }
    }
    first[n] = t;
    toff[t] = node_off[n];
    run_tasks(table, tres, tstart, ntasks, ops, toff);
    for (size_t i = 0; i < n; i++) {
        out[i] = tres[first[i]];
        for (size_t u = first[i] + 1; u < first[i + 1]; u++) ext_add(&out[i], &out[i], &tres[u]);
    }
    free(tstart);
    free(tres);
    free(toff);
    free(first);
    return 0;
}

#else /* one addition at a time */

static int run_ops(const aff *table, ext *out, const ext *starts, size_t n, const uint32_t *ops,
                   const size_t *node_off) {
    for (size_t i = 0; i < n; i++) {
        ext acc = starts[i];
        const size_t a = node_off[i], b = node_off[i + 1];
        for (size_t k = a; k < b && k < a + PREFETCH_AHEAD; k++) prefetch_entry(&table[ops[k] & 0x7fffffffu]);
        for (size_t k = a; k < b; k++) {
            if (k + PREFETCH_AHEAD < b) prefetch_entry(&table[ops[k + PREFETCH_AHEAD] & 0x7fffffffu]);
            const uint32_t op = ops[k];
            const uint64_t mask = (uint64_t)0 - (uint64_t)(op >> 31);
            ext_madd_signed(&acc, &acc, &table[op & 0x7fffffffu], mask);
        }
        out[i] = acc;
    }
    return 0;
}

#endif

#ifdef SALT_IFMA
/* Eight Montgomery values (a·2^256) as lanes standing for a itself (limbs of a·2^260 = 16·a·2^256). */
static void vload_fq8(vfq *r, const fq a[8]) {
    uint64_t l[4][8] __attribute__((aligned(64)));
    for (int k = 0; k < 8; k++) {
        fq v = a[k];
        for (int d = 0; d < 4; d++) fq_dbl(&v, &v);
        for (int w = 0; w < 4; w++) l[w][k] = v.v[w];
    }
    vfrom64(r, _mm512_load_si512((const void *)l[0]), _mm512_load_si512((const void *)l[1]),
            _mm512_load_si512((const void *)l[2]), _mm512_load_si512((const void *)l[3]));
}

/* Inverse of `vload_fq8`: canonical Montgomery values. */
static void vstore_fq8(fq out[8], const vfq *a) {
    vfq t;
    vdiv16(&t, a);
    m2s_get8(&t, out);
}

/* r = p + q in eight lanes: ext_add's formulas (each point's coordinates scaled alike, as in vmadd, so
 * only the curve constant needs its R' form `d`). Inputs < 2q: A, B < 1.12q, H = B + 5A < 7q, outputs < 2q. */
static inline void vext_add(vext *r, const vext *p, const vext *q, const vfq *d) {
    vfq A, B, C, D, s1, s2;
    vmul(&A, &p->X, &q->X);
    vmul(&B, &p->Y, &q->Y);
    vmul(&C, &p->T, &q->T);
    vmul(&C, &C, d);
    vmul(&D, &p->Z, &q->Z);
    vadd(&s1, &p->X, &p->Y);
    vadd(&s2, &q->X, &q->Y);
    vext_sum(r, &A, &B, &C, &D, &s1, &s2);
}

/* sums[k] = Σ_b (b + 1)·buckets[k·nb + b] for the windows k < nw ≤ 8, one window a lane (running sums). */
static void window_sums8(const ext *buckets, size_t nb, int nw, ext *sums) {
    lanes st __attribute__((aligned(64)));
    ext id;
    ext_identity(&id);
    const fq d8[8] = {FQ_D, FQ_D, FQ_D, FQ_D, FQ_D, FQ_D, FQ_D, FQ_D};
    vfq d;
    vload_fq8(&d, d8); /* the curve constant itself, in the lanes' R' form */
    vext run, sum, b;
    for (int k = 0; k < 8; k++) lane_put(&st, k, &id);
    vext_load(&run, &st);
    sum = run;
    for (size_t j = nb; j-- > 0;) {
        for (int k = 0; k < 8; k++) lane_put(&st, k, k < nw ? &buckets[(size_t)k * nb + j] : &id);
        vext_load(&b, &st);
        vext_add(&run, &run, &b, &d);
        vext_add(&sum, &sum, &run, &d);
    }
    vext_store(&st, &sum);
    for (int k = 0; k < nw; k++) lane_get(&st, k, &sums[k]);
}
#endif

/* What decompressing DECOMP_BATCH points needs from exponentiations: for each y² value a[k], the
 * `sqrt_powers` (x[k], s[·][k]), and for each subgroup value u[k] = 1 + 5x², whether it is a non-zero
 * square (sq[k]). */
#define DECOMP_BATCH 16
#ifdef SALT_IFMA
/* r[c] = a[c]^e for the chains c < 4 (e ≠ 0; 4-bit fixed window, as fq_pow), advancing together on one
 * schedule of the exponent's bits. */
static void vpow4(vfq r[4], const vfq a[4], const fq *e) {
    vfq tab[4][16];
    for (int c = 0; c < 4; c++) tab[c][1] = a[c];
    for (int i = 2; i < 16; i++)
        for (int c = 0; c < 4; c++) vmul(&tab[c][i], &tab[c][i - 1], &a[c]);
    int started = 0;
    for (int i = 63; i >= 0; i--) {
        unsigned nib = (unsigned)(e->v[i / 16] >> ((i % 16) * 4)) & 15u;
        if (started)
            for (int b = 0; b < 4; b++)
                for (int c = 0; c < 4; c++) vmul(&r[c], &r[c], &r[c]);
        if (nib) {
            for (int c = 0; c < 4; c++) {
                if (started)
                    vmul(&r[c], &r[c], &tab[c][nib]);
                else
                    r[c] = tab[c][nib];
            }
            started = 1;
        }
    }
}

/* One exponent serves both: z = v^((odd−1)/2) gives the root's powers of y² and, for u, u^((q−1)/2) =
 * (u·z²)^(2^31), which is 1 exactly for the non-zero squares. */
static void decomp_powers(const fq a[DECOMP_BATCH], const fq u[DECOMP_BATCH], fq x[DECOMP_BATCH],
                          fq s[4][DECOMP_BATCH], int sq[DECOMP_BATCH]) {
    vfq v[4], z[4], t;
    vload_fq8(&v[0], a);
    vload_fq8(&v[1], a + 8);
    vload_fq8(&v[2], u);
    vload_fq8(&v[3], u + 8);
    vpow4(z, v, &EXP_ODDM1H);
    for (int h = 0; h < 2; h++) {
        vfq vx;
        vmul(&vx, &v[h], &z[h]);
        vmul(&t, &vx, &z[h]);
        vstore_fq8(x + 8 * h, &vx);
        vstore_fq8(s[0] + 8 * h, &t);
        for (int i = 1; i < 4; i++) {
            for (int b = 0; b < 8; b++) vmul(&t, &t, &t);
            vstore_fq8(s[i] + 8 * h, &t);
        }
    }
    for (int h = 0; h < 2; h++) {
        vmul(&t, &z[2 + h], &z[2 + h]);
        vmul(&t, &t, &v[2 + h]);
        for (int b = 0; b < 31; b++) vmul(&t, &t, &t);
        fq leg[8];
        vstore_fq8(leg, &t);
        for (int k = 0; k < 8; k++) sq[8 * h + k] = fq_eq(&leg[k], &FQ_ONE);
    }
}
#else
static void decomp_powers(const fq a[DECOMP_BATCH], const fq u[DECOMP_BATCH], fq x[DECOMP_BATCH],
                          fq s[4][DECOMP_BATCH], int sq[DECOMP_BATCH]) {
    for (int k = 0; k < DECOMP_BATCH; k++) {
        fq sk[4];
        sqrt_powers(&x[k], sk, &a[k]);
        for (int i = 0; i < 4; i++) s[i][k] = sk[i];
        sq[k] = fq_is_nonzero_square(&u[k]);
    }
}
#endif

/* acc += Σ_{k0 ≤ k < k1} scalar_k · G_{index_k} with the fixed-base tables; 0 or SALT_ENOMEM. */
static int accumulate(ext *acc, const uint8_t *indices, const uint8_t *scalars32, size_t k0, size_t k1,
                      uint32_t **ops_p, size_t *cap_p) {
    size_t n = 0;
    if (build_ops(indices, scalars32, k0, k1, ops_p, cap_p, &n) != 0) return SALT_ENOMEM;
    const size_t off[2] = {0, n};
    const ext start = *acc;
    return run_ops(g_table, acc, &start, 1, *ops_p, off);
}

/* Commit nodes n0..n1-1 into out64 (one batch normalisation); 0 or SALT_ENOMEM. */
static int commit_range(commit_job *job, size_t n0, size_t n1, uint32_t **ops_p, size_t *cap_p) {
    const size_t m = n1 - n0;
    size_t *off = malloc((m + 1) * sizeof(size_t));
    ext *starts = malloc(m * sizeof(ext));
    int rc = off && starts ? 0 : SALT_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < m && !rc; i++) {
        off[i] = n;
        ext_load64(&starts[i], job->olds64 + 64 * (n0 + i));
        rc = build_ops(job->indices, job->scalars32, job->offs[n0 + i], job->offs[n0 + i + 1], ops_p, cap_p, &n);
    }
    if (!rc) {
        off[m] = n;
        rc = run_ops(g_table, job->acc + n0, starts, m, *ops_p, off);
    }
    free(off);
    free(starts);
    if (rc) return rc;
    ext_store_many(job->out64 + 64 * n0, job->acc + n0, m, job->zs + n0, job->scratch + n0);
    return 0;
}

/* Worker: takes chunks until none are left (a thread slowed by other load just takes fewer). */
static void commit_part(void *arg, int part, int nparts) {
    (void)part;
    (void)nparts;
    commit_job *job = (commit_job *)arg;
    uint32_t *ops = NULL;
    size_t cap = 0;
    for (;;) {
        size_t c = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (c >= job->n_chunks) break;
        if (commit_range(job, job->chunks[c], job->chunks[c + 1], &ops, &cap) != 0) {
            __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    free(ops);
}

#define CHUNK_WEIGHT 256 /* deltas (+1 per node) per work chunk: ~1 ms of work */
#define SPLIT_MIN 128     /* a lone node with this many deltas is split over the threads */

typedef struct {
    const uint8_t *old64;
    const uint8_t *indices;
    const uint8_t *scalars32;
    size_t total;
    ext parts[8];
    int failed;
} split_job;

/* Part p of a lone node's deltas, from the identity (part 0: from the old commitment). */
static void split_part(void *arg, int part, int nparts) {
    split_job *job = (split_job *)arg;
    size_t a = job->total * (size_t)part / (size_t)nparts, b = job->total * (size_t)(part + 1) / (size_t)nparts;
    ext acc;
    if (part == 0)
        ext_load64(&acc, job->old64);
    else
        ext_identity(&acc);
    uint32_t *ops = NULL;
    size_t cap = 0;
    if (accumulate(&acc, job->indices, job->scalars32, a, b, &ops, &cap) != 0)
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
    free(ops);
    job->parts[part] = acc;
}

int salt_commit_deltas(const uint8_t *olds64, size_t n_nodes, const uint32_t *counts,
                       const uint8_t *indices, const uint8_t *scalars32, uint8_t *out64,
                       int n_threads) {
    const aff *table = __atomic_load_n(&g_table, __ATOMIC_ACQUIRE);
    if (!table) return SALT_ENOTABLES;
    if (n_nodes == 0) return 0;
    size_t *offs = malloc((n_nodes + 1) * sizeof(size_t));
    size_t *chunks = malloc((n_nodes + 1) * sizeof(size_t));
    ext *acc = malloc(n_nodes * sizeof(ext));
    fq *zs = malloc(n_nodes * sizeof(fq));
    fq *scratch = malloc(n_nodes * sizeof(fq));
    int rc = 0;
    if (!offs || !chunks || !acc || !zs || !scratch) {
        rc = SALT_ENOMEM;
        goto done;
    }
    offs[0] = 0;
    for (size_t i = 0; i < n_nodes; i++) offs[i + 1] = offs[i] + counts[i];
    const size_t total = offs[n_nodes];
    for (size_t k = 0; k < total; k++) {
        if (indices[k] >= g_nbases) {
            rc = SALT_EINDEX;
            goto done;
        }
    }
    /* Node-aligned chunks of about CHUNK_WEIGHT work units (deltas plus one per node). */
    size_t n_chunks = 0, w = 0;
    chunks[0] = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        w += counts[i] + 1;
        if (w >= CHUNK_WEIGHT || i + 1 == n_nodes) {
            chunks[++n_chunks] = i + 1;
            w = 0;
        }
    }
    /* Parallel only when it pays for the thread start (~tens of µs). */
    int parts = n_threads < 1 ? 1 : (n_threads > 8 ? 8 : n_threads);
    if (total < 64) parts = 1;
    if (n_nodes == 1 && total >= SPLIT_MIN && parts > 1) { /* e.g. the root: partial sums per thread */
        split_job sj = {olds64, indices, scalars32, total, {{{{0}}}}, 0};
        run_parallel(split_part, &sj, parts);
        if (sj.failed) {
            rc = SALT_ENOMEM;
            goto done;
        }
        for (int p = 1; p < parts; p++) ext_add(&sj.parts[0], &sj.parts[0], &sj.parts[p]);
        ext_store_many(out64, &sj.parts[0], 1, zs, scratch);
        goto done;
    }
    if ((size_t)parts > n_chunks) parts = (int)n_chunks;
    commit_job job = {olds64, n_nodes, offs, indices, scalars32, out64, acc, zs, scratch, chunks, n_chunks, 0, 0};
    run_parallel(commit_part, &job, parts);
    if (job.failed) rc = SALT_ENOMEM;
done:
    free(offs);
    free(chunks);
    free(acc);
    free(zs);
    free(scratch);
    return rc;
}

/* ---------------------------------------------------------------- map_to_scalar, compress */
int salt_map_to_scalars(const uint8_t *points64, size_t n, uint8_t *out32) {
    if (n == 0) return 0;
#ifdef SALT_IFMA
    if (n >= 16) {
        int rc = m2s_ifma(points64, n, out32);
        if (rc <= 0) return rc;
    }
#endif
    fq *xs = malloc(n * sizeof(fq)), *ys = malloc(n * sizeof(fq)), *scratch = malloc(n * sizeof(fq));
    if (!xs || !ys || !scratch) {
        free(xs);
        free(ys);
        free(scratch);
        return SALT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        fq x, y;
        fq_load_raw(&x, points64 + 64 * i);
        fq_load_raw(&y, points64 + 64 * i + 32);
        fq_to_mont(&xs[i], &x);
        fq_to_mont(&ys[i], &y);
    }
    fq_batch_inv(ys, ys, n, scratch);
    for (size_t i = 0; i < n; i++) {
        fq v;
        fq_mul(&v, &xs[i], &ys[i]);
        fq_from_mont(&v, &v);
        while (geq4(v.v, FR_R.v)) sub4(v.v, v.v, FR_R.v); /* Fr::from_le_bytes_mod_order */
        memcpy(out32 + 32 * i, v.v, 32);
    }
    free(xs);
    free(ys);
    free(scratch);
    return 0;
}

typedef struct {
    const uint8_t *points64;
    size_t n;
    uint8_t *out32;
    int failed;
} m2s_job;

static void m2s_part(void *arg, int part, int nparts) {
    m2s_job *job = (m2s_job *)arg;
    size_t a = job->n * (size_t)part / (size_t)nparts, b = job->n * (size_t)(part + 1) / (size_t)nparts;
    if (b > a && salt_map_to_scalars(job->points64 + 64 * a, b - a, job->out32 + 32 * a) != 0)
        __atomic_store_n(&job->failed, 1, __ATOMIC_RELAXED);
}

/* salt_map_to_scalars on up to n_threads threads (one batch inversion per part). */
static int map_to_scalars_mt(const uint8_t *points64, size_t n, uint8_t *out32, int n_threads) {
    int parts = n < 1024 ? 1 : (n_threads < 1 ? 1 : (n_threads > 8 ? 8 : n_threads));
    m2s_job job = {points64, n, out32, 0};
    run_parallel(m2s_part, &job, parts);
    return job.failed ? SALT_ENOMEM : 0;
}

void salt_compress_many(const uint8_t *points64, size_t n, uint8_t *out32) {
    for (size_t i = 0; i < n; i++) {
        fq x, y;
        fq_load_raw(&x, points64 + 64 * i);
        fq_load_raw(&y, points64 + 64 * i + 32);
        if (!(geq4(y.v, FQ_HALF.v) && !fq_eq(&y, &FQ_HALF))) fq_neg(&x, &x);
        uint8_t *o = out32 + 32 * i;
        for (int b = 0; b < 32; b++) o[b] = (uint8_t)(x.v[(31 - b) / 8] >> (8 * ((31 - b) % 8)));
    }
}

/* ---------------------------------------------------------------- decompress */
typedef struct {
    const fq *xs, *num, *den;
    const uint8_t *code;
    uint8_t *out64;
    size_t n;
    int64_t bad[8];
    int bad_code[8];
} decomp_job;

/* Second pass over a contiguous range: sqrt, sign, subgroup check; stops at the first failure. The
 * exponentiations are taken DECOMP_BATCH points at a time (`decomp_powers`). */
static void decomp_part(void *arg, int part, int nparts) {
    decomp_job *job = (decomp_job *)arg;
    const size_t i0 = job->n * (size_t)part / (size_t)nparts, i1 = job->n * (size_t)(part + 1) / (size_t)nparts;
    job->bad[part] = -1;
    for (size_t j = i0; j < i1; j += DECOMP_BATCH) {
        fq y2[DECOMP_BATCH], u[DECOMP_BATCH], xs[DECOMP_BATCH], ss[4][DECOMP_BATCH];
        int usq[DECOMP_BATCH];
        for (size_t k = 0; k < DECOMP_BATCH; k++) {
            if (j + k < i1 && !job->code[j + k]) {
                fq xx;
                fq_mul(&y2[k], &job->num[j + k], &job->den[j + k]);
                fq_sqr(&xx, &job->xs[j + k]); /* subgroup check: 1 − a·x² = 1 + 5x² must be a non-zero square */
                fq_mul5(&u[k], &xx);
                fq_add(&u[k], &u[k], &FQ_ONE);
            } else {
                y2[k] = u[k] = FQ_ONE; /* a lane with nothing to do */
            }
        }
        decomp_powers(y2, u, xs, ss, usq);
        for (size_t k = 0; k < DECOMP_BATCH && j + k < i1; k++) {
            const size_t i = j + k;
            int code = job->code[i];
            fq y, yp;
            if (!code) {
                const fq sk[4] = {ss[0][k], ss[1][k], ss[2][k], ss[3][k]};
                if (!sqrt_finish(&y, &y2[k], xs[k], sk)) code = 3;
            }
            if (!code && !usq[k]) code = 4;
            if (code) {
                job->bad[part] = (int64_t)i;
                job->bad_code[part] = code;
                return;
            }
            fq_from_mont(&yp, &y);
            if (!(geq4(yp.v, FQ_HALF.v) && !fq_eq(&yp, &FQ_HALF))) fq_neg(&y, &y); /* positive root */
            store64(job->out64 + 64 * i, &job->xs[i], &y);
        }
    }
}

int64_t salt_decompress_many(const uint8_t *in32, size_t n, uint8_t *out64, int *error_code,
                             int n_threads) {
    *error_code = 0;
    if (n == 0) return -1;
    fq *xs = malloc(n * sizeof(fq)), *num = malloc(n * sizeof(fq)), *den = malloc(n * sizeof(fq));
    fq *scratch = malloc(n * sizeof(fq));
    uint8_t *code = calloc(n, 1);
    int64_t bad = -1;
    if (!xs || !num || !den || !scratch || !code) {
        *error_code = SALT_ENOMEM;
        bad = 0;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        fq x;
        const uint8_t *c = in32 + 32 * i;
        for (int l = 0; l < 4; l++) {
            uint64_t v = 0;
            for (int b = 0; b < 8; b++) v = (v << 8) | c[(3 - l) * 8 + b];
            x.v[l] = v;
        }
        den[i] = FQ_ZERO;
        if (geq4(x.v, FQ_Q.v)) {
            code[i] = 1;
            continue;
        }
        fq xx, t;
        fq_to_mont(&xs[i], &x);
        fq_sqr(&xx, &xs[i]);
        fq_mul5(&t, &xx);
        fq_neg(&t, &t);               /* a·x² */
        fq_sub(&num[i], &t, &FQ_ONE); /* a·x² − 1 */
        fq_mul(&t, &xx, &FQ_D);
        fq_sub(&den[i], &t, &FQ_ONE); /* d·x² − 1 */
        if (fq_is_zero(&den[i])) code[i] = 2;
    }
    fq_batch_inv(den, den, n, scratch);
    int parts = n_threads < 1 ? 1 : (n_threads > 8 ? 8 : n_threads);
    if (n < 16) parts = 1;
    decomp_job job = {xs, num, den, code, out64, n, {0}, {0}};
    run_parallel(decomp_part, &job, parts);
    for (int p = 0; p < parts; p++) {
        if (job.bad[p] >= 0) { /* parts cover increasing ranges: the first hit is the minimum */
            bad = job.bad[p];
            *error_code = job.bad_code[p];
            break;
        }
    }
done:
    free(xs);
    free(num);
    free(den);
    free(scratch);
    free(code);
    return bad;
}

/* ---------------------------------------------------------------- Pippenger MSM */
typedef struct {
    const aff *pts;
    const int16_t *digits; /* n × nwin */
    size_t n;
    int c, nwin;
    ext *window_sums; /* nwin */
    int failed;
} msm_job;

/* Windows of one part (a contiguous range): each window's buckets are sums of ±points (signed digit d
 * adds sign(d)·P to bucket |d| − 1), formed by `run_ops` (eight buckets at a time with IFMA), then the
 * window sum Σ (b + 1)·bucket_b by the running-sum method. */
static void msm_part(void *arg, int part, int nparts) {
    msm_job *job = (msm_job *)arg;
    const int w0 = job->nwin * part / nparts, w1 = job->nwin * (part + 1) / nparts;
    const size_t nb = (size_t)1 << (job->c - 1), nbk = (size_t)(w1 - w0) * nb, n = job->n;
    size_t *off = calloc(nbk + 1, sizeof(size_t));
    uint32_t *ops = malloc((n * (size_t)(w1 - w0) + 1) * sizeof(uint32_t));
    ext *starts = malloc(nbk * sizeof(ext)), *buckets = malloc(nbk * sizeof(ext));
    if (!off || !ops || !starts || !buckets) {
        job->failed = 1;
        goto done;
    }
    for (size_t i = 0; i < n; i++) /* counting sort of the (point, window) digits by bucket */
        for (int w = w0; w < w1; w++) {
            const int d = job->digits[i * (size_t)job->nwin + (size_t)w];
            if (d) off[(size_t)(w - w0) * nb + (size_t)(d < 0 ? -d : d)]++;
        }
    for (size_t k = 1; k <= nbk; k++) off[k] += off[k - 1];
    for (size_t i = 0; i < n; i++)
        for (int w = w0; w < w1; w++) {
            const int d = job->digits[i * (size_t)job->nwin + (size_t)w];
            if (d) ops[off[(size_t)(w - w0) * nb + (size_t)(d < 0 ? -d : d) - 1]++] = (uint32_t)i | (d < 0 ? 1u << 31 : 0);
        }
    for (size_t k = nbk; k > 0; k--) off[k] = off[k - 1]; /* the fill advanced each start to the next one */
    off[0] = 0;
    for (size_t k = 0; k < nbk; k++) ext_identity(&starts[k]);
    if (run_ops(job->pts, buckets, starts, nbk, ops, off) != 0) {
        job->failed = 1;
        goto done;
    }
#ifdef SALT_IFMA
    for (int w = w0; w < w1; w += 8)
        window_sums8(buckets + (size_t)(w - w0) * nb, nb, w1 - w < 8 ? w1 - w : 8, job->window_sums + w);
#else
    for (int w = w0; w < w1; w++) {
        const ext *bw = buckets + (size_t)(w - w0) * nb;
        const size_t *ow = off + (size_t)(w - w0) * nb;
        ext run, sum;
        ext_identity(&run);
        ext_identity(&sum);
        int any = 0;
        for (size_t b = nb; b-- > 0;) {
            if (ow[b + 1] > ow[b]) {
                ext_add(&run, &run, &bw[b]);
                any = 1;
            }
            if (any) ext_add(&sum, &sum, &run);
        }
        job->window_sums[w] = sum;
    }
#endif
done:
    free(off);
    free(ops);
    free(starts);
    free(buckets);
}

/* Window width c minimising the cost of nwin windows of n bucket additions (relative cost MSM_ADD each)
 * and 2^(c−1) buckets' two running-sum additions (MSM_RUN together; eight windows at a time with IFMA);
 * at most 15, as a signed digit up to 2^(c−1) is an int16_t. */
#ifdef SALT_IFMA
#define MSM_ADD 3.0 /* eight at a time */
#define MSM_RUN 10.0
#else
#define MSM_ADD 8.0
#define MSM_RUN 20.0
#endif
static int msm_window(size_t n) {
    int best = 2;
    double best_cost = 1e300;
    for (int c = 2; c <= 15; c++) {
        int nwin = (254 + c - 1) / c;
        double cost = (double)nwin * ((double)n * MSM_ADD + (double)(1 << (c - 1)) * MSM_RUN) + 254.0 * 8.0;
        if (cost < best_cost) {
            best_cost = cost;
            best = c;
        }
    }
    return best;
}

int salt_msm(const uint8_t *points64, const uint8_t *scalars32, size_t n, uint8_t *out64,
             int n_threads) {
    ext res;
    ext_identity(&res);
    if (n == 0) {
        fq zs, scratch;
        ext_store_many(out64, &res, 1, &zs, &scratch);
        return 0;
    }
    const int c = msm_window(n);
    const int nwin = (254 + c - 1) / c;
    aff *pts = malloc(n * sizeof(aff));
    int16_t *digits = malloc(n * (size_t)nwin * sizeof(int16_t));
    ext *sums = malloc((size_t)nwin * sizeof(ext));
    int rc = 0;
    if (!pts || !digits || !sums) {
        rc = SALT_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        aff_load64(&pts[i], points64 + 64 * i);
        uint64_t s[5];
        int dig[128];
        scalar_load(s, scalars32 + 32 * i);
        signed_digits(dig, s, c, nwin);
        for (int w = 0; w < nwin; w++) digits[i * (size_t)nwin + (size_t)w] = (int16_t)dig[w];
    }
    msm_job job = {pts, digits, n, c, nwin, sums, 0};
    int parts = n_threads < 1 ? 1 : n_threads;
    if (n < 64) parts = 1;
    if (parts > nwin) parts = nwin;
    run_parallel(msm_part, &job, parts);
    if (job.failed) {
        rc = SALT_ENOMEM;
        goto done;
    }
    res = sums[nwin - 1];
    for (int w = nwin - 2; w >= 0; w--) {
        for (int k = 0; k < c; k++) ext_dbl(&res, &res);
        ext_add(&res, &res, &sums[w]);
    }
    {
        fq zs, scratch;
        ext_store_many(out64, &res, 1, &zs, &scratch);
    }
done:
    free(pts);
    free(digits);
    free(sums);
    return rc;
}

/* ---------------------------------------------------------------- trie update (§5.1) */
static const uint32_t MAIN_START[5] = {0, 1, 257, 65793, 16843009}; /* STARTING_NODE_ID */
#define EMPTY_LEN 0xFFFFFFFFu

/* 256-bit LE value mod r (inputs < 2^256 < 16·r). */
static inline void fr_reduce(uint64_t v[4]) {
    while (geq4(v, FR_R.v)) sub4(v, v, FR_R.v);
}

/* r = a − b mod r for a, b < r. */
static inline void fr_sub(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
    if (sub4(r, a, b)) {
        u128 c = 0;
        for (int i = 0; i < 4; i++) {
            c += (u128)r[i] + FR_R.v[i];
            r[i] = (uint64_t)c;
            c >>= 64;
        }
    }
}

/* kv_hash (§4.2) of input `len` bytes at `data` (EMPTY_LEN: empty slot, LE(01×32) mod r). */
static void kv_scalar(uint64_t out[4], const uint8_t *data, uint32_t len) {
    uint8_t h[32];
    if (len == EMPTY_LEN)
        memset(h, 1, 32);
    else
        salt_blake3_small(data, len, h);
    memcpy(out, h, 32);
    fr_reduce(out);
}

typedef struct {
    const uint8_t *values;
    const uint32_t *lens;
    const size_t *offs; /* byte offset of delta k's old value */
    size_t total;
    uint8_t *scalars;
} kvs_job;

static void kvs_part(void *arg, int part, int nparts) {
    kvs_job *job = (kvs_job *)arg;
    size_t a = job->total * (size_t)part / (size_t)nparts, b = job->total * (size_t)(part + 1) / (size_t)nparts;
    for (size_t k = a; k < b; k++) {
        uint64_t o[4], nw[4], d[4];
        uint32_t lo = job->lens[2 * k], ln = job->lens[2 * k + 1];
        size_t off = job->offs[k];
        kv_scalar(o, job->values + off, lo);
        kv_scalar(nw, job->values + off + (lo == EMPTY_LEN ? 0 : lo), ln);
        fr_sub(d, nw, o);
        memcpy(job->scalars + 32 * k, d, 32);
    }
}

int salt_commit_slot_deltas(const uint8_t *olds64, size_t n_nodes, const uint32_t *counts,
                            const uint8_t *indices, const uint8_t *values, const uint32_t *lens,
                            uint8_t *out64, int n_threads) {
    size_t total = 0;
    for (size_t i = 0; i < n_nodes; i++) total += counts[i];
    uint8_t *scalars = malloc(total ? 32 * total : 32);
    size_t *offs = malloc(total ? total * sizeof(size_t) : sizeof(size_t));
    if (!scalars || !offs) {
        free(scalars);
        free(offs);
        return SALT_ENOMEM;
    }
    size_t off = 0;
    for (size_t k = 0; k < total; k++) {
        uint32_t lo = lens[2 * k], ln = lens[2 * k + 1];
        if ((lo != EMPTY_LEN && lo > 1024) || (ln != EMPTY_LEN && ln > 1024)) {
            free(scalars);
            free(offs);
            return SALT_EINDEX;
        }
        offs[k] = off;
        off += (lo == EMPTY_LEN ? 0 : lo) + (ln == EMPTY_LEN ? 0 : ln);
    }
    kvs_job job = {values, lens, offs, total, scalars};
    int parts = total < 512 ? 1 : (n_threads < 1 ? 1 : (n_threads > 8 ? 8 : n_threads));
    run_parallel(kvs_part, &job, parts);
    free(offs);
    int rc = salt_commit_deltas(olds64, n_nodes, counts, indices, scalars, out64, n_threads);
    free(scalars);
    return rc;
}

/* One level: children (ascending ids at `level`) → their distinct parents' new commitments. */
static int propagate_level(int level, size_t n, const uint32_t *ids, const uint8_t *olds64,
                           const uint8_t *news64, size_t n_par, uint32_t *par_ids,
                           const uint8_t *par_olds64, uint8_t *par_news64, uint64_t *ecmuls,
                           int n_threads) {
    const uint32_t start = MAIN_START[level], up = MAIN_START[level - 1];
    uint32_t *counts = calloc(n_par ? n_par : 1, sizeof(uint32_t));
    uint8_t *idx = malloc(n ? n : 1), *pts = malloc(n ? 128 * n : 128);
    uint8_t *scal = malloc(n ? 64 * n : 64), *deltas = malloc(n ? 32 * n : 32);
    int rc = 0;
    if (!counts || !idx || !pts || !scal || !deltas) {
        rc = SALT_ENOMEM;
        goto done;
    }
    size_t np = 0, nc = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < start || ids[i] >= MAIN_START[level + 1] || (i && ids[i] <= ids[i - 1])) {
            rc = SALT_EINDEX;
            goto done;
        }
        uint32_t p = ((ids[i] - start) >> 8) + up;
        if (np == 0 || par_ids[np - 1] != p) {
            if (np == n_par) {
                rc = SALT_EINDEX;
                goto done;
            }
            par_ids[np++] = p;
        }
        if (memcmp(olds64 + 64 * i, news64 + 64 * i, 64) == 0) continue;
        memcpy(pts + 128 * nc, olds64 + 64 * i, 64);
        memcpy(pts + 128 * nc + 64, news64 + 64 * i, 64);
        idx[nc++] = (uint8_t)((ids[i] - start) & 0xFF);
        counts[np - 1]++;
    }
    if (np != n_par) {
        rc = SALT_EINDEX;
        goto done;
    }
    if ((rc = map_to_scalars_mt(pts, 2 * nc, scal, n_threads)) != 0) goto done;
    for (size_t j = 0; j < nc; j++) {
        uint64_t o[4], nw[4], d[4];
        memcpy(o, scal + 64 * j, 32);
        memcpy(nw, scal + 64 * j + 32, 32);
        fr_sub(d, nw, o);
        memcpy(deltas + 32 * j, d, 32);
    }
    if ((rc = salt_commit_deltas(par_olds64, n_par, counts, idx, deltas, par_news64, n_threads)) != 0) goto done;
    for (size_t p = 0; p < n_par; p++)
        if (!counts[p]) memcpy(par_news64 + 64 * p, par_olds64 + 64 * p, 64);
    *ecmuls += nc;
done:
    free(counts);
    free(idx);
    free(pts);
    free(scal);
    free(deltas);
    return rc;
}

int salt_propagate_main(size_t n, const uint32_t *ids, const uint8_t *olds64,
                        const uint8_t *news64, int top, size_t n_anc, const uint8_t *anc_olds64,
                        uint8_t *anc_news64, uint64_t *ecmuls, int n_threads) {
    *ecmuls = 0;
    if (top < 0 || top > 2) return SALT_EINDEX;
    if (n == 0) return n_anc == 0 ? 0 : SALT_EINDEX;
    uint32_t *anc_ids = malloc(n_anc ? n_anc * sizeof(uint32_t) : sizeof(uint32_t));
    if (!anc_ids) return SALT_ENOMEM;
    int rc = 0;
    size_t off = 0;
    const uint32_t *cur_ids = ids;
    const uint8_t *cur_olds = olds64, *cur_news = news64;
    size_t m = n;
    for (int level = 3; level > top; level--) {
        /* Distinct parents of m ascending children: count them to find this level's slice. */
        size_t np = 0;
        uint32_t last = 0;
        for (size_t i = 0; i < m; i++) {
            uint32_t p = cur_ids[i] >= MAIN_START[level] ? ((cur_ids[i] - MAIN_START[level]) >> 8) + MAIN_START[level - 1] : 0;
            if (i == 0 || p != last) np++;
            last = p;
        }
        if (off + np > n_anc) {
            rc = SALT_EINDEX;
            break;
        }
        rc = propagate_level(level, m, cur_ids, cur_olds, cur_news, np, anc_ids + off, anc_olds64 + 64 * off,
                             anc_news64 + 64 * off, ecmuls, n_threads);
        if (rc) break;
        cur_ids = anc_ids + off;
        cur_olds = anc_olds64 + 64 * off;
        cur_news = anc_news64 + 64 * off;
        m = np;
        off += np;
    }
    if (!rc && off != n_anc) rc = SALT_EINDEX;
    free(anc_ids);
    return rc;
}

/* start64 + Σ (map_to_scalar(new) − map_to_scalar(old))·G[id − 1] over n changed level-1 nodes
 * (ascending ids, new commitments news64, old ones read from nodes012), §5.1 step 3. */
static int level1_sum(const uint8_t *nodes012, const uint8_t *start64, size_t n, const uint32_t *ids,
                      const uint8_t *news64, uint8_t *out64, int n_threads) {
    if (n == 0) { /* start64 in canonical form */
        ext p;
        fq zs, scratch;
        ext_load64(&p, start64);
        ext_store_many(out64, &p, 1, &zs, &scratch);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (ids[i] < MAIN_START[1] || ids[i] >= MAIN_START[2] || (i && ids[i] <= ids[i - 1])) return SALT_EINDEX;
    /* 64-byte aligned: GCC 12 vectorizes the copy below with aligned 64-byte stores into pts */
    uint8_t *pts = aligned_alloc(64, 128 * n), *scal = malloc(64 * n), *deltas = malloc(32 * n), *idx = malloc(n);
    int rc = SALT_ENOMEM;
    if (pts && scal && deltas && idx) {
        for (size_t i = 0; i < n; i++) {
            memcpy(pts + 128 * i, nodes012 + 64 * (size_t)ids[i], 64);
            memcpy(pts + 128 * i + 64, news64 + 64 * i, 64);
            idx[i] = (uint8_t)(ids[i] - MAIN_START[1]);
        }
        rc = map_to_scalars_mt(pts, 2 * n, scal, n_threads);
        for (size_t i = 0; !rc && i < n; i++) {
            uint64_t o[4], nw[4], d[4];
            memcpy(o, scal + 64 * i, 32);
            memcpy(nw, scal + 64 * i + 32, 32);
            fr_sub(d, nw, o);
            memcpy(deltas + 32 * i, d, 32);
        }
        uint32_t count = (uint32_t)n;
        if (!rc) rc = salt_commit_deltas(start64, 1, &count, idx, deltas, out64, n_threads);
    }
    free(pts);
    free(scal);
    free(deltas);
    free(idx);
    return rc;
}

static const uint8_t IDENTITY64[64] = {[32] = 1}; /* (0, 1) */

int salt_root_from_level1(const uint8_t *nodes012, size_t n, const uint32_t *ids, const uint8_t *news64,
                          size_t n_partials, const uint8_t *partials64, uint8_t *root_out64, int n_threads) {
    int rc = level1_sum(nodes012, nodes012, n, ids, news64, root_out64, n_threads);
    if (rc || n_partials == 0) return rc;
    ext acc, q;
    ext_load64(&acc, root_out64);
    for (size_t i = 0; i < n_partials; i++) {
        ext_load64(&q, partials64 + 64 * i);
        ext_add(&acc, &acc, &q);
    }
    fq zs, scratch;
    ext_store_many(root_out64, &acc, 1, &zs, &scratch);
    return 0;
}

/* ---------------------------------------------------------------- leaves → level 1 on a background thread */
/* Jobs go to a FIFO served by one background thread (the caller's thread keeps its core for Python);
 * salt_leaves_wait runs a job that has not started yet itself instead of blocking, so queued work
 * is shared between the two. After fork() the child starts with fresh lock and condition, an empty queue
 * and no thread; jobs the parent had queued or running go back to "queued" for the child's wait to run. */
typedef struct leaves_job {
    size_t n, n_anc;
    const uint32_t *ids, *counts, *lens;
    const uint8_t *olds64, *slots, *values, *anc_olds64;
    uint8_t *news64, *anc_news64;
    const uint8_t *nodes012;  /* salt_leaves_start_flat: levels 0-2, the ancestors' olds come from here */
    uint32_t *anc_ids;        /* ... and the changed ancestors' ids go here, their count to *n_changed, */
    size_t *n_changed;
    uint8_t *partial64;       /* ... and the sum of their level-1 deltas to the root here */
    uint64_t ecmuls;
    int n_threads, rc, state; /* state: 0 queued, 1 running, 2 done */
    struct leaves_job *next;
} leaves_job;

static pthread_mutex_t g_lq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_lq_cv = PTHREAD_COND_INITIALIZER; /* queue non-empty, or a job done */
static leaves_job *g_lq_head = NULL, *g_lq_tail = NULL, *g_lq_running = NULL;
static int g_lq_started = 0;

static void lq_prepare(void) { pthread_mutex_lock(&g_lq_lock); }
static void lq_parent(void) { pthread_mutex_unlock(&g_lq_lock); }
static void lq_child(void) { /* the condition may count the parent's waiting thread: make both anew */
    if (g_lq_running) g_lq_running->state = 0;
    g_lq_head = g_lq_tail = g_lq_running = NULL;
    g_lq_started = 0;
    pthread_mutex_init(&g_lq_lock, NULL);
    pthread_cond_init(&g_lq_cv, NULL);
}
static pthread_once_t g_lq_once = PTHREAD_ONCE_INIT;
static void lq_init(void) { pthread_atfork(lq_prepare, lq_parent, lq_child); }

/* The flat job's ancestors (level-2 parents of the ascending level-3 ids, then their level-1 parents)
 * with their old commitments read from nodes012, levels 3 -> 1, then only the changed ones kept. */
static int leaves_flat_task(leaves_job *j) {
    size_t n = j->n, m = 0;
    const uint32_t *ids = j->ids;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < MAIN_START[3] || ids[i] >= MAIN_START[4] || (i && ids[i] <= ids[i - 1])) return SALT_EINDEX;
    uint32_t *anc = j->anc_ids;
    for (size_t i = 0; i < n; i++) {
        uint32_t p = ((ids[i] - MAIN_START[3]) >> 8) + MAIN_START[2];
        if (!m || anc[m - 1] != p) anc[m++] = p;
    }
    size_t m2 = m;
    for (size_t k = 0; k < m2; k++) {
        uint32_t p = ((anc[k] - MAIN_START[2]) >> 8) + MAIN_START[1];
        if (m == m2 || anc[m - 1] != p) anc[m++] = p;
    }
    uint8_t *olds = aligned_alloc(64, m ? 64 * m : 64); /* aligned as in salt_root_from_level1 */
    if (!olds) return SALT_ENOMEM;
    for (size_t k = 0; k < m; k++) memcpy(olds + 64 * k, j->nodes012 + 64 * (size_t)anc[k], 64);
    int rc = salt_propagate_main(n, ids, j->olds64, j->news64, 1, m, olds, j->anc_news64, &j->ecmuls, j->n_threads);
    size_t c = 0;
    for (size_t k = 0; !rc && k < m; k++) {
        if (memcmp(olds + 64 * k, j->anc_news64 + 64 * k, 64) == 0) continue;
        anc[c] = anc[k];
        if (c != k) memcpy(j->anc_news64 + 64 * c, j->anc_news64 + 64 * k, 64);
        c++;
    }
    *j->n_changed = c;
    free(olds);
    size_t l1 = c;
    while (l1 && anc[l1 - 1] < MAIN_START[2]) l1--; /* the changed level-1 nodes: anc[l1..c) */
    if (!rc) rc = level1_sum(j->nodes012, IDENTITY64, c - l1, anc + l1, j->anc_news64 + 64 * l1, j->partial64, j->n_threads);
    return rc;
}

static void leaves_task(leaves_job *j) {
    j->rc = salt_commit_slot_deltas(j->olds64, j->n, j->counts, j->slots, j->values, j->lens, j->news64, j->n_threads);
    if (j->rc) return;
    if (j->nodes012)
        j->rc = leaves_flat_task(j);
    else
        j->rc = salt_propagate_main(j->n, j->ids, j->olds64, j->news64, 1, j->n_anc, j->anc_olds64, j->anc_news64,
                                    &j->ecmuls, j->n_threads);
}

static void *lq_main(void *p) {
    (void)p;
    pthread_mutex_lock(&g_lq_lock);
    for (;;) {
        while (!g_lq_head) pthread_cond_wait(&g_lq_cv, &g_lq_lock);
        leaves_job *j = g_lq_head;
        g_lq_head = j->next;
        if (!g_lq_head) g_lq_tail = NULL;
        j->state = 1;
        g_lq_running = j;
        pthread_mutex_unlock(&g_lq_lock);
        leaves_task(j);
        pthread_mutex_lock(&g_lq_lock);
        g_lq_running = NULL;
        j->state = 2;
        pthread_cond_broadcast(&g_lq_cv);
    }
    return NULL;
}

static void *leaves_queue(leaves_job *j);

void *salt_leaves_start(size_t n, const uint32_t *ids, const uint8_t *olds64, const uint32_t *counts,
                        const uint8_t *slots, const uint8_t *values, const uint32_t *lens, size_t n_anc,
                        const uint8_t *anc_olds64, uint8_t *news64, uint8_t *anc_news64, int n_threads) {
    leaves_job *j = calloc(1, sizeof(leaves_job));
    if (!j) return NULL;
    *j = (leaves_job){.n = n, .n_anc = n_anc, .ids = ids, .counts = counts, .lens = lens, .olds64 = olds64,
                      .slots = slots, .values = values, .anc_olds64 = anc_olds64, .news64 = news64,
                      .anc_news64 = anc_news64, .n_threads = n_threads};
    return leaves_queue(j);
}

void *salt_leaves_start_flat(size_t n, const uint32_t *ids, const uint8_t *olds64, const uint32_t *counts,
                             const uint8_t *slots, const uint8_t *values, const uint32_t *lens,
                             const uint8_t *nodes012, uint8_t *news64, uint32_t *anc_ids, uint8_t *anc_news64,
                             size_t *n_changed, uint8_t *partial64, int n_threads) {
    leaves_job *j = calloc(1, sizeof(leaves_job));
    if (!j) return NULL;
    *j = (leaves_job){.n = n, .ids = ids, .counts = counts, .lens = lens, .olds64 = olds64, .slots = slots,
                      .values = values, .news64 = news64, .anc_news64 = anc_news64, .nodes012 = nodes012,
                      .anc_ids = anc_ids, .n_changed = n_changed, .partial64 = partial64, .n_threads = n_threads};
    *n_changed = 0;
    return leaves_queue(j);
}

static void *leaves_queue(leaves_job *j) {
    pthread_once(&g_lq_once, lq_init);
    pthread_mutex_lock(&g_lq_lock);
    if (!g_lq_started) {
        pthread_t th;
        if (pthread_create(&th, NULL, lq_main, NULL) == 0) {
            pthread_detach(th);
            g_lq_started = 1;
        }
    }
    int queued = g_lq_started; /* read under the lock: another thread may start the thread after we failed */
    if (queued) {
        if (g_lq_tail)
            g_lq_tail->next = j;
        else
            g_lq_head = j;
        g_lq_tail = j;
        pthread_cond_broadcast(&g_lq_cv);
    }
    pthread_mutex_unlock(&g_lq_lock);
    if (!queued) { /* no thread: do it now */
        leaves_task(j);
        j->state = 2;
    }
    return j;
}

int salt_leaves_wait(void *job, uint64_t *ecmuls) {
    leaves_job *j = (leaves_job *)job;
    pthread_mutex_lock(&g_lq_lock);
    int run_here = j->state == 0;
    if (run_here) { /* not started: take it off the queue (if a fork did not empty it) and run it here */
        leaves_job **pp = &g_lq_head, *prev = NULL;
        while (*pp && *pp != j) {
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (*pp) {
            *pp = j->next;
            if (g_lq_tail == j) g_lq_tail = prev;
        }
        j->state = 1;
    }
    while (!run_here && j->state != 2) pthread_cond_wait(&g_lq_cv, &g_lq_lock);
    pthread_mutex_unlock(&g_lq_lock);
    if (run_here) leaves_task(j);
    int rc = j->rc;
    *ecmuls = j->ecmuls;
    free(j);
    return rc;
}

/* ---------------------------------------------------------------- F_r (scalar field) for the prover (§6.5) */
static const fq FR_R2 = {{0xdbb4f5d658db47cbULL, 0x40fa7ca27fecb938ULL, 0xaa9e6daec0055ceaULL,
                          0x0ae793ddb14aec7dULL}}; /* 2^512 mod r */
#define FR_N0 0xf19f22295cc063dfULL                 /* -r^-1 mod 2^64 */
static const fq FR_ONE = {{0x5817ca56bc48c0f8ULL, 0x0383c7fc5f37dc74ULL, 0x998c4fefecbc4ff8ULL,
                           0x1824b159acc5056fULL}}; /* 2^256 mod r = Montgomery 1 */

/* Montgomery product a·b·2^-256 mod r for a, b < r (CIOS; r < 2^255 so no extra carry word). */
static inline void fr_mul(fq *out, const fq *a, const fq *b) {
    uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    const uint64_t *m = FR_R.v;
    for (int i = 0; i < 4; i++) {
        const uint64_t bi = b->v[i];
        u128 A = (u128)a->v[0] * bi + t0;
        const uint64_t lo = (uint64_t)A;
        const uint64_t k = lo * FR_N0;
        u128 C = (u128)k * m[0] + lo;
        A = (u128)a->v[1] * bi + t1 + (uint64_t)(A >> 64);
        C = (u128)k * m[1] + (uint64_t)A + (uint64_t)(C >> 64);
        t0 = (uint64_t)C;
        A = (u128)a->v[2] * bi + t2 + (uint64_t)(A >> 64);
        C = (u128)k * m[2] + (uint64_t)A + (uint64_t)(C >> 64);
        t1 = (uint64_t)C;
        A = (u128)a->v[3] * bi + t3 + (uint64_t)(A >> 64);
        C = (u128)k * m[3] + (uint64_t)A + (uint64_t)(C >> 64);
        t2 = (uint64_t)C;
        t3 = (uint64_t)(C >> 64) + (uint64_t)(A >> 64);
    }
    uint64_t t[4] = {t0, t1, t2, t3}, s[4];
    uint64_t keep = (uint64_t)0 - sub4(s, t, FR_R.v);
    for (int i = 0; i < 4; i++) out->v[i] = (t[i] & keep) | (s[i] & ~keep);
}

static inline void fr_add_m(fq *out, const fq *a, const fq *b) {
    uint64_t t[4], s[4];
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c = (u128)a->v[i] + b->v[i] + (uint64_t)(c >> 64);
        t[i] = (uint64_t)c;
    }
    uint64_t keep = (uint64_t)0 - sub4(s, t, FR_R.v);
    for (int i = 0; i < 4; i++) out->v[i] = (t[i] & keep) | (s[i] & ~keep);
}

/* LE32 scalar (reduced mod r) → Montgomery form. */
static inline void fr_load(fq *out, const uint8_t *le) {
    fq v;
    memcpy(v.v, le, 32);
    fr_reduce(v.v);
    fr_mul(out, &v, &FR_R2);
}

static inline void fr_store(uint8_t *le, const fq *m) {
    static const fq one = {{1, 0, 0, 0}};
    fq v;
    fr_mul(&v, m, &one);
    memcpy(le, v.v, 32);
}

/* Load n·256 LE32 scalars into Montgomery form; NULL when out of memory. */
static fq *fr_load_many(const uint8_t *in32, size_t n) {
    fq *out = malloc((n ? n : 1) * 256 * sizeof(fq));
    if (out)
        for (size_t i = 0; i < n * 256; i++) fr_load(&out[i], in32 + 32 * i);
    return out;
}

int salt_fr_quotient_sum(const uint8_t *agg32, const uint8_t *zs, size_t nz, const uint8_t *consts32,
                         uint8_t *out32) {
    enum { D = 256 };
    fq *acc = fr_load_many(agg32, nz), *k = fr_load_many(consts32, 3);
    if (!acc || !k) {
        free(acc);
        free(k);
        return SALT_ENOMEM;
    }
    const fq *inv_small = k, *aprime = k + D, *inv_aprime = k + 2 * D;
    fq g[D], neg_inv[D];
    for (int d = 0; d < D; d++) {
        fr_sub(neg_inv[d].v, FQ_ZERO.v, inv_small[d].v); /* −1/d (Montgomery form is linear) */
        g[d] = FQ_ZERO;
    }
    for (size_t zi = 0; zi < nz; zi++) {
        const int z = zs[zi];
        const fq *f = acc + zi * D;
        fq at = FQ_ZERO, q, t;
        for (int j = 0; j < D; j++) {
            if (j == z) continue;
            fr_sub(t.v, f[j].v, f[z].v);
            fr_mul(&q, &t, j > z ? &inv_small[j - z] : &neg_inv[z - j]);
            fr_add_m(&g[j], &g[j], &q);
            fr_mul(&t, &inv_aprime[j], &q);
            fr_add_m(&at, &at, &t);
        }
        fr_mul(&t, &aprime[z], &at);
        fr_sub(g[z].v, g[z].v, t.v);
    }
    for (int j = 0; j < D; j++) fr_store(out32 + 32 * j, &g[j]);
    free(acc);
    free(k);
    return 0;
}

int salt_fr_combine(const uint8_t *vecs32, size_t n, const uint8_t *coefs32, uint8_t *out32) {
    fq *v = fr_load_many(vecs32, n);
    fq *c = malloc((n ? n : 1) * sizeof(fq));
    if (!v || !c) {
        free(v);
        free(c);
        return SALT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) fr_load(&c[i], coefs32 + 32 * i);
    fq out[256], t;
    for (int j = 0; j < 256; j++) out[j] = FQ_ZERO;
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < 256; j++) {
            fr_mul(&t, &c[i], &v[i * 256 + j]);
            fr_add_m(&out[j], &out[j], &t);
        }
    for (int j = 0; j < 256; j++) fr_store(out32 + 32 * j, &out[j]);
    free(v);
    free(c);
    return 0;
}

/* Node vectors in sparse form (prover, §6.5), in Montgomery form: vector n is c[n] except at its
 * counts[n] slots idx[off[n]..], where it is c[n] + dv[off[n]..]. */
typedef struct {
    fq *c, *dv;
    size_t *off;
    const uint32_t *counts;
    const uint8_t *idx;
} fr_sparse;

static void fr_sparse_free(fr_sparse *s) {
    free(s->c);
    free(s->dv);
    free(s->off);
}

static int fr_sparse_load(fr_sparse *s, size_t n_nodes, const uint8_t *consts32, const uint32_t *counts,
                          const uint8_t *idx, const uint8_t *vals32, size_t nq, const uint32_t *node) {
    for (size_t i = 0; i < nq; i++)
        if (node[i] >= n_nodes) return SALT_EINDEX;
    size_t total = 0;
    for (size_t n = 0; n < n_nodes; n++) total += counts[n];
    s->c = malloc((n_nodes ? n_nodes : 1) * sizeof(fq));
    s->dv = malloc((total ? total : 1) * sizeof(fq));
    s->off = malloc((n_nodes ? n_nodes : 1) * sizeof(size_t));
    s->counts = counts;
    s->idx = idx;
    if (!s->c || !s->dv || !s->off) {
        fr_sparse_free(s);
        return SALT_ENOMEM;
    }
    size_t k = 0;
    for (size_t n = 0; n < n_nodes; n++) {
        fr_load(&s->c[n], consts32 + 32 * n);
        s->off[n] = k;
        for (uint32_t e = 0; e < counts[n]; e++, k++) {
            fr_load(&s->dv[k], vals32 + 32 * k);
            fr_sub(s->dv[k].v, s->dv[k].v, s->c[n].v);
        }
    }
    return 0;
}

static inline int fr_is_zero(const fq *a) { return !(a->v[0] | a->v[1] | a->v[2] | a->v[3]); }

int salt_fr_quotient_sparse(size_t n_nodes, const uint8_t *consts32, const uint32_t *counts, const uint8_t *idx,
                            const uint8_t *vals32, size_t nq, const uint32_t *node, const uint8_t *z,
                            const uint8_t *r32, const uint8_t *bary32, uint8_t *out32) {
    enum { D = 256 };
    fr_sparse s;
    int rc = fr_sparse_load(&s, n_nodes, consts32, counts, idx, vals32, nq, node);
    if (rc) return rc;
    fq *acc = calloc((size_t)D * D, sizeof(fq)), *k = fr_load_many(bary32, 4); /* all-zero bits = 0 */
    if (!acc || !k) {
        free(acc);
        free(k);
        fr_sparse_free(&s);
        return SALT_ENOMEM;
    }
    const fq *inv_small = k, *aprime = k + D, *inv_aprime = k + 2 * D, *sums = k + 3 * D;
    /* agg_z minus its constant part (a constant has a zero quotient): Σ r^i·(f_{n_i} − c_{n_i}). */
    int slot[D], zs[D], nz = 0;
    for (int j = 0; j < D; j++) slot[j] = -1;
    fq r, ri, t, q;
    fr_load(&r, r32);
    fr_load(&ri, (const uint8_t[32]){1});
    for (size_t i = 0; i < nq; i++) {
        int sl = slot[z[i]];
        if (sl < 0) {
            sl = slot[z[i]] = nz;
            zs[nz++] = z[i];
        }
        fq *a = acc + (size_t)sl * D;
        const uint32_t n = node[i];
        const uint8_t *ix = s.idx + s.off[n];
        const fq *dv = s.dv + s.off[n];
        for (uint32_t e = 0; e < s.counts[n]; e++) {
            fr_mul(&t, &ri, &dv[e]);
            fr_add_m(&a[ix[e]], &a[ix[e]], &t);
        }
        fr_mul(&ri, &ri, &r);
    }
    /* g_j = Σ_z (a_j − a_z)/(j − z) for j ≠ z, g_z −= A'(z)·Σ_{j≠z} (a_j − a_z)/((j − z)·A'(j)); with
     * d = a_z: the terms are p_j − u_j for p_j = a_j/(j − z) (zero where a_j = 0), u_j = d/(j − z), and
     * Σ_j u_j/A'(j) = d·sums[z]. */
    fq g[D], neg_inv[D];
    for (int d = 0; d < D; d++) {
        fr_sub(neg_inv[d].v, FQ_ZERO.v, inv_small[d].v);
        g[d] = FQ_ZERO;
    }
    for (int sl = 0; sl < nz; sl++) {
        const int zz = zs[sl];
        const fq *a = acc + (size_t)sl * D, d = a[zz];
        const int dz = fr_is_zero(&d);
        fq at = FQ_ZERO;
        for (int j = 0; j < D; j++) {
            if (j == zz) continue;
            const fq *inv = j > zz ? &inv_small[j - zz] : &neg_inv[zz - j];
            if (!fr_is_zero(&a[j])) {
                fr_mul(&q, &a[j], inv);
                fr_mul(&t, &inv_aprime[j], &q);
                fr_add_m(&at, &at, &t);
                if (!dz) {
                    fr_mul(&t, &d, inv);
                    fr_sub(q.v, q.v, t.v);
                }
                fr_add_m(&g[j], &g[j], &q);
            } else if (!dz) {
                fr_mul(&t, &d, inv);
                fr_sub(g[j].v, g[j].v, t.v);
            }
        }
        if (!dz) {
            fr_mul(&t, &d, &sums[zz]);
            fr_sub(at.v, at.v, t.v);
        }
        fr_mul(&t, &aprime[zz], &at);
        fr_sub(g[zz].v, g[zz].v, t.v);
    }
    for (int j = 0; j < D; j++) fr_store(out32 + 32 * j, &g[j]);
    free(acc);
    free(k);
    fr_sparse_free(&s);
    return 0;
}

int salt_fr_combine_sparse(size_t n_nodes, const uint8_t *consts32, const uint32_t *counts, const uint8_t *idx,
                           const uint8_t *vals32, size_t nq, const uint32_t *node, const uint8_t *z,
                           const uint8_t *r32, const uint8_t *zcoefs32, uint8_t *out32) {
    enum { D = 256 };
    fr_sparse s;
    int rc = fr_sparse_load(&s, n_nodes, consts32, counts, idx, vals32, nq, node);
    if (rc) return rc;
    fq *zc = fr_load_many(zcoefs32, 1);
    if (!zc) {
        fr_sparse_free(&s);
        return SALT_ENOMEM;
    }
    fq acc[D], bg = FQ_ZERO, r, ri, ki, t;
    for (int j = 0; j < D; j++) acc[j] = FQ_ZERO;
    fr_load(&r, r32);
    fr_load(&ri, (const uint8_t[32]){1});
    for (size_t i = 0; i < nq; i++) {
        const uint32_t n = node[i];
        fr_mul(&ki, &ri, &zc[z[i]]);
        fr_mul(&t, &ki, &s.c[n]);
        fr_add_m(&bg, &bg, &t);
        const uint8_t *ix = s.idx + s.off[n];
        const fq *dv = s.dv + s.off[n];
        for (uint32_t e = 0; e < s.counts[n]; e++) {
            fr_mul(&t, &ki, &dv[e]);
            fr_add_m(&acc[ix[e]], &acc[ix[e]], &t);
        }
        fr_mul(&ri, &ri, &r);
    }
    for (int j = 0; j < D; j++) {
        fr_add_m(&t, &acc[j], &bg);
        fr_store(out32 + 32 * j, &t);
    }
    free(zc);
    fr_sparse_free(&s);
    return 0;
}

/* ---------------------------------------------------------------- F_r for the verifier (§6.4) */
/* a^(r−2) = 1/a (0 ↦ 0), Montgomery form, 4-bit fixed window. */
static void fr_inv(fq *out, const fq *a) {
    static const fq exp = {{0x74fd06b52876e7dfULL, 0xff8f870074190471ULL, 0x0cce760202687600ULL,
                            0x1cfb69d4ca675f52ULL}}; /* r − 2 */
    fq tab[16];
    tab[0] = FR_ONE;
    for (int i = 1; i < 16; i++) fr_mul(&tab[i], &tab[i - 1], a);
    fq acc = FR_ONE;
    for (int i = 63; i >= 0; i--) {
        for (int k = 0; k < 4; k++) fr_mul(&acc, &acc, &acc);
        fr_mul(&acc, &acc, &tab[(exp.v[i / 16] >> ((i % 16) * 4)) & 15u]);
    }
    *out = acc;
}

/* out[i] = 1/in[i] (Montgomery form) with one inversion; every output is 0 when any input is 0 (as
 * salt.ipa.batch_inverse). out may alias in. */
static void fr_batch_inv(fq *out, const fq *in, size_t n, fq *scratch) {
    fq acc = FR_ONE;
    for (size_t i = 0; i < n; i++) {
        scratch[i] = acc;
        fr_mul(&acc, &acc, &in[i]);
    }
    fq inv;
    fr_inv(&inv, &acc);
    for (size_t i = n; i-- > 0;) {
        fq t;
        fr_mul(&t, &inv, &scratch[i]);
        fr_mul(&inv, &inv, &in[i]);
        out[i] = t;
    }
}

/* 1/(t − j) for j = 0..255 and A(t) = Π_j (t − j); t Montgomery. */
static void fr_domain_at(fq inv_tz[256], fq *a_t, const fq *t) {
    fq d[256], scratch[256];
    uint8_t le[32] = {0};
    *a_t = FR_ONE;
    for (int j = 0; j < 256; j++) {
        fq jm;
        le[0] = (uint8_t)j;
        fr_load(&jm, le);
        fr_sub(d[j].v, t->v, jm.v);
        fr_mul(a_t, a_t, &d[j]);
    }
    fr_batch_inv(inv_tz, d, 256, scratch);
}

int salt_fr_verify_sums(size_t nq, const uint32_t *node, const uint8_t *z, const uint8_t *ys32, size_t n_points,
                        const uint8_t *r32, const uint8_t *t32, uint8_t *node_out32, uint8_t *g2t_out32) {
    fq *acc = calloc(n_points ? n_points : 1, sizeof(fq));
    if (!acc) return SALT_ENOMEM;
    fq r, t, inv_tz[256], a_t, ri = FR_ONE, g2 = FQ_ZERO, h, y;
    fr_load(&r, r32);
    fr_load(&t, t32);
    fr_domain_at(inv_tz, &a_t, &t);
    for (size_t i = 0; i < nq; i++) {
        if (node[i] >= n_points) {
            free(acc);
            return SALT_EINDEX;
        }
        fr_mul(&h, &ri, &inv_tz[z[i]]);
        fr_add_m(&acc[node[i]], &acc[node[i]], &h);
        fr_load(&y, ys32 + 32 * i);
        fr_mul(&y, &y, &h);
        fr_add_m(&g2, &g2, &y);
        fr_mul(&ri, &ri, &r);
    }
    for (size_t n = 0; n < n_points; n++) fr_store(node_out32 + 32 * n, &acc[n]);
    fr_store(g2t_out32, &g2);
    free(acc);
    return 0;
}

int salt_fr_verify_final(const uint8_t *t32, const uint8_t *xs32, const uint8_t *a32, const uint8_t *inv_aprime32,
                         uint8_t *b0_out32, uint8_t *as_out32, uint8_t *xinv_out32) {
    enum { D = 256, ROUNDS = 8 };
    fq t, a, x_inv[ROUNDS], scratch[ROUNDS], s[D], inv_tz[D], a_t, b0 = FQ_ZERO;
    fr_load(&t, t32);
    fr_load(&a, a32);
    for (int k = 0; k < ROUNDS; k++) fr_load(&x_inv[k], xs32 + 32 * k);
    fr_batch_inv(x_inv, x_inv, ROUNDS, scratch);
    fr_sub(s[0].v, FQ_ZERO.v, FR_ONE.v); /* −1 */
    for (int k = 0, len = 1; k < ROUNDS; k++, len *= 2) /* s_j: challenge 0 ↔ the top bit of j */
        for (int i = len - 1; i >= 0; i--) {
            fr_mul(&s[2 * i + 1], &s[i], &x_inv[k]);
            s[2 * i] = s[i];
        }
    fr_domain_at(inv_tz, &a_t, &t);
    for (int j = 0; j < D; j++) {
        fq b, ia;
        fr_load(&ia, inv_aprime32 + 32 * j);
        fr_mul(&b, &a_t, &ia);
        fr_mul(&b, &b, &inv_tz[j]); /* L_j(t) */
        fr_mul(&b, &b, &s[j]);
        fr_add_m(&b0, &b0, &b);
        fr_mul(&b, &a, &s[j]);
        fr_store(as_out32 + 32 * j, &b);
    }
    fr_store(b0_out32, &b0);
    for (int k = 0; k < ROUNDS; k++) fr_store(xinv_out32 + 32 * k, &x_inv[k]);
    return 0;
}
