/* Batch Banderwagon/Bandersnatch arithmetic for SALT (spec/salt.md §3, §4, §9).
 *
 * Loaded by salt/native.py through cffi ABI mode: the declarations between the CDEF markers are
 * fed verbatim to ffi.cdef(), so keep them plain C (no macros, no preprocessor lines).
 *
 * Byte formats (all little-endian unless stated):
 *   point64    x LE32 ‖ y LE32 affine coordinates (trusted storage format, reduced mod q on input);
 *              outputs are canonical: the (x, y) ~ (-x, -y) representative with y > (q-1)/2.
 *   compressed 32 bytes big-endian x of the positive-y representative.
 *   scalar     32 bytes LE; reduced mod r inside (callers normally pass values < r).
 *   inputs     `data` is the concatenation of n byte strings with lengths `lens` (each ≤ 1024);
 *              in salt_commit_slot_deltas a length of 0xFFFFFFFF marks an empty slot (no bytes).
 *
 * salt_blake3_many: BLAKE3 digest of each input. salt_ahash_many: AHash of each input, with
 * LE32(nonce) appended when nonce >= 0 (bucket hasher, §2.2).
 * salt_commit_slot_deltas: like salt_commit_deltas, but the scalar of delta k is
 *   kv_hash(input 2k+1) − kv_hash(input 2k) (new minus old slot content key‖value, §4.2, §5.1).
 * salt_propagate_main: main-trie levels 3 → top (§5.1 step 3; top 0 = up to the root, 1 or 2 stops
 *   below it). `ids` are ascending level-3 node ids with old/new commitments; the ancestors are
 *   their distinct parents (ascending), then the grandparents, ... up to level `top`, in that order
 *   in anc_olds64/anc_news64 (n_anc in total).
 *   *ecmuls receives the number of changed children over the levels.
 * salt_leaves_start: salt_commit_slot_deltas of n level-3 nodes (ascending `ids`, inputs as there),
 *   then salt_propagate_main of the result up to level 1 (top = 1), queued for one background thread;
 *   the caller keeps every buffer alive until salt_leaves_wait, which runs the job itself when it
 *   has not started yet (else waits for it), frees it and returns its status (*ecmuls: the
 *   propagation's). NULL when out of memory.
 * salt_leaves_start_flat: salt_leaves_start with the ancestors found here: `nodes012` holds the
 *   commitments of main-trie nodes 0..65792 (64 bytes each, by id); the ancestors are read from it
 *   and, after the job, only those whose commitment changed are left (ascending level 2, then level 1):
 *   ids in anc_ids, new commitments in anc_news64 (room for n + min(n, 256) of each), their count in
 *   *n_changed; and in partial64 the sum of the changed level-1 nodes' terms of the root update,
 *   Σ (map_to_scalar(new) − map_to_scalar(old))·G[id − 1] (the identity when none changed).
 *   SALT_EINDEX when the ids are not ascending level-3 nodes.
 * salt_root_from_level1: the new root commitment (§5.1 step 3) for n changed level-1 nodes (ascending
 *   ids, new commitments news64; their old ones and the old root read from nodes012, as above) plus
 *   n_partials such partial sums (partials64) of other level-1 nodes.
 * salt_shi_flat (shi.c, §2.3): the SHI ops of flat (capacity 256) buckets, ascending `buckets` with
 *   nonces; stored entries of bucket b are entry_off[b]..entry_off[b+1]-1 (slot byte, 94-byte raw
 *   SaltValue). The ops are n_ops indices op_idx into a batch of n_all ops (op i: bucket op_bucket[i],
 *   key ‖ value at op_start[i] in op_data, lengths in op_len as key length, value length or
 *   0xFFFFFFFF = delete), grouped by bucket in the order of `buckets`, applied in op_idx order. Out, per
 *   bucket: changed-slot count (0xFFFFFFFF: it would resize or a length is over 255, nothing written)
 *   and the occupancy change; per changed slot (ascending SaltKeys out_key): old and new content as
 *   -1 (empty), batch op index, or n_all + entry index, and old then new key ‖ value in out_data /
 *   out_lens as salt_commit_slot_deltas takes them; out_n: number of changes, out_data bytes. Room:
 *   2·entries + ops changes, out_data 2·(entry bytes) + op bytes. Returns the number of flagged
 *   buckets (or an error code < 0; SALT_EINDEX when an op index is >= n_all or the ops are not
 *   grouped by `buckets`).
 * salt_order_by_bucket (shi.c): the indices of n bucket ids (each < 2^24) in stable bucket order, and
 *   the buckets in that order (SALT_EINDEX when a bucket is 2^24 or more).
 * salt_id_bitmap (shi.c): for each of n big-endian u64 ids (8 bytes each) in first..first+count-1,
 *   sets bit id − first (bit k of byte k >> 3) of `bitmap` (zeroed by the caller, (count + 7) / 8 bytes).
 * salt_fr_quotient_sum (prover, §6.5): g = Σ_z (f_z(X) − f_z(z)) / (X − z) in evaluation form on
 *   the domain 0..255 for nz vectors f_z (256 scalars each) at points zs; consts32 holds 3×256
 *   scalars: 1/d for d = 0..255 (entry 0 unused), A'(j), 1/A'(j). salt_fr_combine: Σ_i c_i·v_i of
 *   n 256-scalar vectors. Outputs 256 scalars mod r.
 * salt_fr_quotient_sparse / salt_fr_combine_sparse (prover, §6.5): the same two sums over the nq
 *   queries (node[i], z[i]) with agg_z = Σ_{i: z_i = z} r^i·f_{node[i]}, node vectors in sparse form:
 *   vector n is consts32[n] except at its counts[n] slots (next in idx, values next in vals32).
 *   quotient: g as salt_fr_quotient_sum; bary32 holds 4×256 scalars: 1/d (entry 0 unused), A'(j),
 *   1/A'(j), Σ_{j≠z} 1/(A'(j)·(j − z)). combine: Σ_i r^i·zcoefs32[z_i]·f_{node[i]}. 256 scalars out;
 *   SALT_EINDEX when a node index is >= n_nodes.
 * salt_fr_verify_sums (verifier, §6.4): over the nq queries (node[i], z[i], ys32[i]) with t outside the
 *   domain, h_i = r^i/(t − z_i): per point n the sum of h_i with node[i] = n (n_points scalars out) and
 *   g2(t) = Σ h_i·y_i; SALT_EINDEX when a node index is >= n_points. salt_fr_verify_final: from t, the
 *   8 IPA challenges xs32 and the proof scalar a: 1/x_k (xinv_out32; all 0 when any x_k is 0), the
 *   folding vector s (s_j = −Π x_k^−1 over the set bits of j, challenge 0 ↔ the top bit) as a·s_j
 *   (as_out32, 256 scalars) and b0 = Σ_j L_j(t)·s_j with L_j(t) = A(t)/(A'(j)·(t − j)), given 1/A'(j)
 *   (inv_aprime32).
 */
#ifndef SALT_BANDERWAGON_H
#define SALT_BANDERWAGON_H

#include <stddef.h>
#include <stdint.h>

/* BEGIN CDEF */
int salt_abi_version(void);
int salt_window_bits(void);
size_t salt_table_bytes(int n_bases);
int salt_tables_ready(void);
int salt_tables_init(const uint8_t *bases64, int n_bases, int n_threads);
int salt_commit_deltas(const uint8_t *olds64, size_t n_nodes, const uint32_t *counts,
                       const uint8_t *indices, const uint8_t *scalars32, uint8_t *out64,
                       int n_threads);
int salt_map_to_scalars(const uint8_t *points64, size_t n, uint8_t *out32);
int64_t salt_decompress_many(const uint8_t *in32, size_t n, uint8_t *out64, int *error_code,
                             int n_threads);
void salt_compress_many(const uint8_t *points64, size_t n, uint8_t *out32);
int salt_msm(const uint8_t *points64, const uint8_t *scalars32, size_t n, uint8_t *out64,
             int n_threads);
int salt_blake3_many(const uint8_t *data, const uint32_t *lens, size_t n, uint8_t *out32);
int salt_ahash_many(const uint8_t *data, const uint32_t *lens, size_t n, int64_t nonce,
                    uint64_t *out);
int salt_commit_slot_deltas(const uint8_t *olds64, size_t n_nodes, const uint32_t *counts,
                            const uint8_t *indices, const uint8_t *values, const uint32_t *lens,
                            uint8_t *out64, int n_threads);
int salt_propagate_main(size_t n, const uint32_t *ids, const uint8_t *olds64,
                        const uint8_t *news64, int top, size_t n_anc, const uint8_t *anc_olds64,
                        uint8_t *anc_news64, uint64_t *ecmuls, int n_threads);
void *salt_leaves_start(size_t n, const uint32_t *ids, const uint8_t *olds64, const uint32_t *counts,
                        const uint8_t *slots, const uint8_t *values, const uint32_t *lens, size_t n_anc,
                        const uint8_t *anc_olds64, uint8_t *news64, uint8_t *anc_news64, int n_threads);
void *salt_leaves_start_flat(size_t n, const uint32_t *ids, const uint8_t *olds64, const uint32_t *counts,
                             const uint8_t *slots, const uint8_t *values, const uint32_t *lens,
                             const uint8_t *nodes012, uint8_t *news64, uint32_t *anc_ids, uint8_t *anc_news64,
                             size_t *n_changed, uint8_t *partial64, int n_threads);
int salt_leaves_wait(void *job, uint64_t *ecmuls);
int salt_root_from_level1(const uint8_t *nodes012, size_t n, const uint32_t *ids, const uint8_t *news64,
                          size_t n_partials, const uint8_t *partials64, uint8_t *root_out64, int n_threads);
int salt_fr_quotient_sum(const uint8_t *agg32, const uint8_t *zs, size_t nz, const uint8_t *consts32,
                         uint8_t *out32);
int salt_fr_combine(const uint8_t *vecs32, size_t n, const uint8_t *coefs32, uint8_t *out32);
int salt_fr_quotient_sparse(size_t n_nodes, const uint8_t *consts32, const uint32_t *counts, const uint8_t *idx,
                            const uint8_t *vals32, size_t nq, const uint32_t *node, const uint8_t *z,
                            const uint8_t *r32, const uint8_t *bary32, uint8_t *out32);
int salt_fr_combine_sparse(size_t n_nodes, const uint8_t *consts32, const uint32_t *counts, const uint8_t *idx,
                           const uint8_t *vals32, size_t nq, const uint32_t *node, const uint8_t *z,
                           const uint8_t *r32, const uint8_t *zcoefs32, uint8_t *out32);
int salt_shi_flat(size_t n_buckets, const uint64_t *buckets, const uint32_t *nonces,
                  const uint32_t *entry_off, const uint8_t *entry_slot, const uint8_t *entry_raw,
                  size_t n_ops, const uint32_t *op_idx, size_t n_all, const uint64_t *op_bucket,
                  const uint8_t *op_data, const uint32_t *op_len, const uint32_t *op_start,
                  uint32_t *out_count, int32_t *out_used_delta, uint64_t *out_key, int32_t *out_old,
                  int32_t *out_new, uint8_t *out_data, uint32_t *out_lens, size_t *out_n);
int salt_order_by_bucket(const uint64_t *buckets, size_t n, uint32_t *order, uint64_t *sorted);
void salt_id_bitmap(const uint8_t *ids_be, size_t n, uint64_t first, uint64_t count, uint8_t *bitmap);
int salt_fr_verify_sums(size_t nq, const uint32_t *node, const uint8_t *z, const uint8_t *ys32, size_t n_points,
                        const uint8_t *r32, const uint8_t *t32, uint8_t *node_out32, uint8_t *g2t_out32);
int salt_fr_verify_final(const uint8_t *t32, const uint8_t *xs32, const uint8_t *a32, const uint8_t *inv_aprime32,
                         uint8_t *b0_out32, uint8_t *as_out32, uint8_t *xinv_out32);
/* END CDEF */

/* Return codes of the int functions: 0 ok, SALT_ENOTABLES (tables not built), SALT_ENOMEM,
 * SALT_EINDEX (generator index >= n_bases; node index >= n_nodes). salt_decompress_many returns -1 when every point
 * decodes, else the index of the first bad point with *error_code = 1 (x >= q), 2 (d·x² = 1),
 * 3 (y² not a square), 4 (not in the subgroup). */
#define SALT_ENOTABLES (-1)
#define SALT_ENOMEM (-2)
#define SALT_EINDEX (-3)

#endif
