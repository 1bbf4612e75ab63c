/* Per-op profiling: the clock, and the span hook of a device (see LT_KCALL in
 * lt_impl.h for how ops report).
 *
 * Span names (kind "op", tid 0), n = elements of the output unless said otherwise,
 * FLOPs, and bytes (4 a float, 8 an int64; each input read once, each output written
 * once, an accumulated output read too):
 *   matmul, matmul_backward     GEMM (M,K)x(K,N): 2MNK; 4(MK + KN + MN)
 *   linear                      x W^T (+ b): 2MNK (+ MN); 4(MK + NK + MN (+ N))
 *   linear_backward             dx and dW GEMMs as above (dW accumulates: + 4MN, but
 *                               not the step's first gradient after zero_grad),
 *                               and the bias gradient, a (rows, out) sum: rows*out
 *   add sub mul div             n; 4(|a| + |b| + n)
 *   relu_backward gelu_backward tanh_backward sigmoid_backward   as binary ops
 *   neg relu gelu tanh sigmoid exp log sqrt square   n; 8n
 *   scale add_scalar neg        (alpha x + beta) 2n; 8n
 *   sum mean                    |x|; 4(|x| + n)
 *   sum_backward mean_backward  n (2n for mean); 4(|g| + n)
 *   sum_to_size                 a broadcast input's gradient summed down: |g|; 4(|g| + n)
 *   softmax log_softmax         5n; 8n
 *   softmax_backward log_softmax_backward   4n; 12n
 *   cross_entropy               5 N C + N; 4(2 N C + N) + 8N (softmax kept for backward)
 *   cross_entropy_backward      2 N C; 4(2 N C + N) + 8N
 *   argmax                      N C; 4 N C + 8N       eq (accuracy): n; 20n
 *   accumulate_grad             a parameter's grad += g: n; 12n (the step's first: 0; 8n)
 *   zero_grad fill              0; 4n (zero_grad is deferred: it fills a gradient only
 *                               when it is read before backward wrote it)
 *                               copy (detach, keep): 0; 2 nbytes
 *   memcpy_h2d memcpy_d2h       0; nbytes
 *   sgd_step                    (2 + 2 wd + 3 momentum + 2 nesterov) n; 4n(3 + 2 slots)
 *   adam_step                   (12 + 2 wd) n; 28n
 *   clip_grad_norm              per gradient: its squared norm 2n; 4(n + 1), and the
 *                               rescale n; 8n     clip_grad_value: 2n; 8n
 *   conv2d                      x (N,C,H,W) * w (O,C/G,kh,kw), K = C/G kh kw, P = OH OW:
 *                               im2col, G GEMMs and the (O,N,P) -> (N,O,P) bias add as one:
 *                               2 O K N P + n; 4(|x| + 2|col| + |w| + 2n), |col| = G K N P
 *   conv2d_backward             the dW and dx GEMMs, col2im, bias sum: 4 O K N P + |g|;
 *                               4(2|g| + 2|col| + |x| + 2|w|) (the accelerator's direct
 *                               conv2d slots, when they run, are counted the same)
 *   max_pool2d avg_pool2d       kh kw per output (adaptive_avg_pool2d: H W / (OH OW)):
 *   adaptive_avg_pool2d         window n; 4(|x| + n) (+ 8n: max_pool2d's argmax indices)
 *   *_pool2d_backward           |g|; 4(|g| + |x|) (+ 8|g| for max_pool2d)
 *   batch_norm                  the fused slot, x (N,C,...): 5|x|; 4(3|x| + 4C)
 *   batch_norm_backward         8|x|; 4(3|x| + 5C)
 *   batch_norm_update           running mean and variance: 10C; 32C
 *   dropout_mask                Philox per element: 20n; 4n (then a mul)
 *   -- issue 19 (gen) --
 *   conv_transpose2d            x (N,Cin,H,W) * w (Cin,Cout/G,kh,kw) -> (N,Cout,OH,OW), K =
 *                               Cout/G kh kw, P = H W: the (N,Cin,P) -> (Cin,N,P) swap, G
 *                               GEMMs, col2im and the bias add as one: 2 Cin K N P (+ n with
 *                               a bias); 4(3|x| + 2|col| + |w| + n (+ 2n)), |col| = G K N P
 *   conv_transpose2d_backward   im2col of the gradient, the dW and dx GEMMs, the swap back,
 *                               the bias sums: 4 Cin K N P + |g|; 4(2|g| + 2|col| + 2|x| + 2|w|)
 *   logsigmoid                  ten elementwise passes: 10n; 80n
 *   logsigmoid_backward         dy sigmoid(-x): 3n; 20n
 *   binary_cross_entropy        the clamped logs and the products: 10n; 80n
 *   binary_cross_entropy_backward  both inputs' gradients: 12n; 96n
 *   binary_cross_entropy_with_logits is logsigmoid plus the ops above (neg, add_scalar,
 *   mul, sub; mean or sum).
 *   (tensor manipulation and attention, issue 19 text models)
 *   permute cat narrow          copy_strided: 0; 8n (permute_backward, cat_backward,
 *   narrow_backward             narrow_backward: the same copy of the gradient)
 *   embedding index_select      gather: 0; 8n + 8|idx|
 *   gather one_hot              (one_hot: the scatter of ones, 4(n + N) + 8N)
 *   gather_backward             scatter_add: |g|; 12|g| + 8|idx|
 *   masked_fill                 n = |x|: 0; 4(2n + |mask|)  (masked_fill_backward alike)
 *   clamp clamp_backward        2n; 8n    clamp_backward: the relu_backward mask, 12n
 *   matmul matmul_backward      batched: the GEMM formulas summed over the batch
 * Without the batch_norm slots, batch_norm and layer_norm are made of mean, sub, mul,
 * add_scalar, sqrt, div and add (and their backward spans).
 * lt_mse_loss and lt_accuracy are made of the ops above (sub, mul, mean; argmax, eq,
 * mean). The loader's "[_DataLoader].fill_batch" (kind "data") is in data/loader.c.
 * issue 19 (group_norm, losses, custom ops):
 *   one_hot                     the labels' one-hot rows of lt_nll_loss and
 *                               lt_cross_entropy_ex (the cross_entropy_bwd slot): N C;
 *                               4(2 N C + N) + 8N; with "eq" (label == ignore_index) and
 *                               "memcpy_h2d" of that constant. group_norm, the rest of
 *                               those losses, smooth_l1_loss and huber_loss are made of
 *                               the ops above.
 * -- #23: the composed optimizers (optim/optim_more.c), one span per run of parameters:
 *   rmsprop_step adagrad_step   (12 | 9 | 18 | 16 | 16, + 2 wd) n, about one per slot call;
 *   adamax_step nadam_step      4n(3 + 2 slots)
 *   radam_step */
#include <time.h>

#include "lt_impl.h"

uint64_t lt_prof_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void lt_device_set_profiler(lt_device_t *dev, lt_prof_span_fn fn, void *user) {
    if (!dev) return;
    lt__prof_timer_resolve(dev); /* what is pending belongs to the profiler set until now */
    dev->prof_user = user;
    dev->prof_fn = fn;
    if (fn) lt__prof_timer_open(dev);
}

uint64_t lt__prof_begin(lt_device_t *dev) {
    if (dev->prof_fn && dev->prof_timer) lt__prof_timer_begin(dev);
    return lt_prof_now_ns();
}

/* Out of line and cold: the ops' fast path only holds the branch that skips this. */
__attribute__((cold)) void lt__prof_emit(lt_device_t *dev, uint64_t t0, const char *name,
                                         double flops, double bytes) {
    dev->last_op = name; /* --detect_anomaly names the op whose output it checks */
    if (lt__prof_timer_open_op(dev)) {
        lt__prof_timer_end(dev, name, flops, bytes);
        return;
    }
    lt_prof_span_fn fn = dev->prof_fn;
    if (!fn) return;
    /* An asynchronous device has only queued the kernel: wait, so the span is its run
     * time rather than its launch time (as CUDA_LAUNCH_BLOCKING does for torch). */
    if (dev->k.sync) dev->k.sync(dev->state);
    lt_prof_span sp = {.name = name,
                       .kind = "op",
                       .start_ns = t0,
                       .end_ns = lt_prof_now_ns(),
                       .flops = flops,
                       .bytes = bytes,
                       .tid = 0};
    fn(dev->prof_user, &sp);
}
