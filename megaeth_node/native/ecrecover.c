/* Public keys of many ECDSA signatures in one call, through libsecp256k1's own functions (passed in as
 * pointers: the library coincurve bundles), so that a burst of transactions is recovered without a trip
 * back into Python between two signatures. The steps are coincurve's PublicKey.from_signature_and_message
 * (parse the compact recoverable signature, recover, serialize uncompressed). */
#include <stddef.h>
#include <stdint.h>

typedef struct { unsigned char data[65]; } recoverable_signature;
typedef struct { unsigned char data[64]; } public_key;
typedef int (*parse_fn)(const void *ctx, recoverable_signature *sig, const unsigned char *in64, int recid);
typedef int (*recover_fn)(const void *ctx, public_key *pub, const recoverable_signature *sig,
                          const unsigned char *msg32);
typedef int (*serialize_fn)(const void *ctx, unsigned char *out, size_t *outlen, const public_key *pub,
                            unsigned int flags);

/* Signature i is r || s || recovery id at sigs + 65 i, its message hash at hashes + 32 i. On success the
 * 64-byte public key (uncompressed, without the 0x04 prefix) is at out + 64 i and ok[i] = 1; else ok[i] = 0. */
void recover_batch(const void *parse, const void *recover, const void *serialize, const void *ctx,
                   unsigned int uncompressed_flag, size_t n, const unsigned char *sigs,
                   const unsigned char *hashes, unsigned char *out, unsigned char *ok) {
    for (size_t i = 0; i < n; i++) {
        const unsigned char *sig = sigs + 65 * i;
        recoverable_signature parsed;
        public_key pub;
        unsigned char serialized[65];
        size_t length = sizeof serialized;
        ok[i] = sig[64] <= 3
            && ((parse_fn)parse)(ctx, &parsed, sig, sig[64])
            && ((recover_fn)recover)(ctx, &pub, &parsed, hashes + 32 * i)
            && ((serialize_fn)serialize)(ctx, serialized, &length, &pub, uncompressed_flag)
            && length == 65;
        if (ok[i]) {
            for (int k = 0; k < 64; k++) out[64 * i + k] = serialized[k + 1];
        }
    }
}
