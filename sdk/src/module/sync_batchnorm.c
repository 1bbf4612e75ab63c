/* Lightning's --sync_batchnorm (torch's SyncBatchNorm): under DDP, a batch norm layer in
 * training mode normalises with the statistics of the whole global batch, every rank's
 * shard together. Forward sums each channel's values and then its squared deviations over
 * the ranks (two passes: exact where E[x^2] - E[x]^2 would cancel); backward sums the two
 * per-channel gradient terms over the ranks, as torch's does:
 *
 *   dx = w invstd (dy - sum(dy) / M - xhat sum(dy xhat) / M)   sums over all ranks' N, L
 *   dw = sum(dy xhat), db = sum(dy)                            this rank's (DDP averages)
 *
 * with M the global count per channel. It is a custom op (lt/custom_op.h) whose user
 * pointer is the layer, so backward reaches the trainer's collectives through bn->ctx.
 * Collectives go through lt_trainer_all_reduce on host floats: in place on the cpu
 * accelerator's memory, staged through a host copy elsewhere. */
#include <math.h>
#include <stdlib.h>

#include "ctx_impl.h"

bool lt__sync_batchnorm_applies(const lt_batchnorm_t *bn) {
    const lt_trainer_t *tr = bn->ctx ? bn->ctx->trainer : NULL;
    return tr && lt_training(bn->ctx) && lt_trainer_world_size(tr) > 1 &&
           tr->struct_size >= offsetof(lt_trainer_t, sync_batchnorm) + sizeof(bool) &&
           tr->sync_batchnorm;
}

/* t's elements summed over every rank, in place. */
static lt_status all_reduce_tensor(lt_trainer_t *tr, lt_tensor_t *t) {
    if (!t) return lt_last_status();
    if (lt__dev(t)->k.host_memory) return lt_trainer_all_reduce(tr, lt__f32(t), t->numel, false);
    size_t nbytes = (size_t)t->numel * sizeof(float);
    float *host = malloc(nbytes);
    if (!host) return lt_set_error(LT_ERR_OOM, "sync batch norm: out of host memory");
    lt_status s = lt_to_host(t, host, nbytes);
    if (s == LT_OK) s = lt_trainer_all_reduce(tr, host, t->numel, false);
    if (s == LT_OK) s = lt_from_host_into(t, host, nbytes);
    free(host);
    return s;
}

/* The number of values per channel over all ranks; sent as two floats, each exact. */
static double global_count(lt_trainer_t *tr, int64_t local) {
    float parts[2] = {(float)(local >> 12), (float)(local & 4095)};
    if (lt_trainer_all_reduce(tr, parts, 2, false) != LT_OK) return NAN;
    return (double)parts[0] * 4096.0 + (double)parts[1];
}

/* (N, C, L) -> (1, C, 1): the sum over N and L. */
static lt_tensor_t *channel_sums(lt_tensor_t *x3) {
    return lt_sum_dim(lt_sum_dim(x3, 2, true), 0, true);
}

/* in: x (N, C, L), weight (C), bias (C). Saves xhat and invstd (1, C, 1) and M. */
static lt_tensor_t *sync_bn_forward(lt_custom_fn_ctx_t *fn, lt_tensor_t *const *in, void *user) {
    lt_batchnorm_t *bn = user;
    lt_trainer_t *tr = bn->ctx->trainer;
    lt_tensor_t *x = in[0];
    int64_t c = x->shape[1], cs[3] = {1, c, 1};
    double m = global_count(tr, x->shape[0] * x->shape[2]);
    lt_tensor_t *mean = channel_sums(x);
    if (all_reduce_tensor(tr, mean) != LT_OK) return NULL;
    if (!(m > 1)) {
        lt_set_error(LT_ERR_SHAPE,
                     "sync batch norm: training needs more than one value per "
                     "channel over all ranks, got %g",
                     m);
        return NULL;
    }
    mean = lt_scale(mean, (float)(1.0 / m));
    lt_tensor_t *xc = lt_sub(x, mean), *var = channel_sums(lt_mul(xc, xc));
    if (all_reduce_tensor(tr, var) != LT_OK) return NULL;
    var = lt_scale(var, (float)(1.0 / m)); /* biased, as the normalisation uses */
    lt_tensor_t *invstd =
        lt_div(lt_full(x->arena, 3, cs, 1.0f), lt_sqrt(lt_add_scalar(var, (float)bn->eps)));
    lt_tensor_t *xhat = lt_mul(xc, invstd);
    if (!xhat) return NULL;
    lt__batch_norm_update_running(bn->running_mean, bn->running_var, lt__f32(mean), lt__f32(var),
                                  lt__batchnorm_momentum(bn), (int64_t)m);
    lt_save_for_backward(fn, xhat);
    lt_save_for_backward(fn, invstd);
    lt_save_scalar(fn, m);
    lt_tensor_t *y = xhat;
    if (in[1]) y = lt_mul(y, lt_reshape(in[1], 3, cs));
    if (in[2]) y = lt_add(y, lt_reshape(in[2], 3, cs));
    return y;
}

static int sync_bn_backward(lt_custom_fn_ctx_t *fn, lt_tensor_t *g, lt_tensor_t **grad_in,
                            void *user) {
    lt_batchnorm_t *bn = user;
    lt_tensor_t *xhat = lt_saved_tensor(fn, 0), *invstd = lt_saved_tensor(fn, 1);
    double m = lt_saved_scalar(fn, 0);
    int64_t c = g->shape[1], cs[3] = {1, c, 1};
    lt_tensor_t *sum_dy = channel_sums(g), *sum_dy_xhat = channel_sums(lt_mul(g, xhat));
    if (lt_needs_input_grad(fn, 1)) grad_in[1] = lt_reshape(sum_dy_xhat, 1, &c);
    if (lt_needs_input_grad(fn, 2)) grad_in[2] = lt_reshape(sum_dy, 1, &c);
    if (!lt_needs_input_grad(fn, 0)) return 3;
    lt_tensor_t *all_dy = lt_detach(sum_dy), *all_dy_xhat = lt_detach(sum_dy_xhat);
    if (all_reduce_tensor(bn->ctx->trainer, all_dy) != LT_OK ||
        all_reduce_tensor(bn->ctx->trainer, all_dy_xhat) != LT_OK)
        return -1;
    lt_tensor_t *inner = lt_sub(lt_sub(g, lt_scale(all_dy, (float)(1.0 / m))),
                                lt_mul(xhat, lt_scale(all_dy_xhat, (float)(1.0 / m))));
    lt_tensor_t *k = bn->weight ? lt_mul(invstd, lt_reshape(bn->weight, 3, cs)) : invstd;
    grad_in[0] = lt_mul(inner, k);
    return 3;
}

static const lt_custom_op_desc sync_bn_op =
    LT_CUSTOM_OP_DESC(.name = "sync_batch_norm", .num_inputs = 3, .forward = sync_bn_forward,
                      .backward = sync_bn_backward);

lt_tensor_t *lt__sync_batchnorm_forward(lt_batchnorm_t *bn, lt_tensor_t *x) {
    if (!lt__check_f32(x, "lt_batchnorm_forward")) return NULL;
    int64_t c = bn->weight->shape[0];
    if (x->ndim < 2 || x->shape[1] != c || x->shape[0] < 1) {
        char sx[96];
        lt_set_error(LT_ERR_SHAPE, "lt_batchnorm_forward: expected (N, %lld, ...), got %s",
                     (long long)c, lt__shape_str(x, sx, sizeof sx));
        return NULL;
    }
    int64_t x3s[3] = {x->shape[0], c, x->numel / (x->shape[0] * c)};
    lt_tensor_t *in[3] = {lt_reshape(x, 3, x3s), bn->weight, bn->bias};
    return lt_reshape(lt_custom_op_apply(&sync_bn_op, bn, 3, in), x->ndim, x->shape);
}
