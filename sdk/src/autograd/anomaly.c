/* Anomaly detection (Lightning's Trainer(detect_anomaly=True), torch.autograd's
 * detect_anomaly): with it on, the output of every op that records a backward and the
 * input gradients every backward produces are read back and checked for NaN and inf.
 * The first one found records an LT_ERR_NUMERIC error naming the op, so the hook or
 * step that ran it fails with that message. It reads the device after every op, so it
 * is slow, as torch's mode is: a debugging switch, off by default. */
#include <math.h>
#include <stdio.h>

#include "lt_impl.h"

void lt_device_set_detect_anomaly(lt_device_t *dev, bool on) {
    if (!dev) return;
    dev->detect_anomaly = on;
    dev->last_op = NULL;
}

/* The index of t's first NaN/inf (its value in *bad), or -1 when every element is finite.
 * Read in chunks through a stack buffer: no allocation, whatever the tensor's size. */
static int64_t first_non_finite(const lt_tensor_t *t, float *bad) {
    if (t->dtype != LT_F32) return -1;
    lt_device_t *dev = lt__dev(t);
    float buf[2048];
    const float *src = lt__f32(t);
    for (int64_t at = 0; at < t->numel; at += 2048) {
        int64_t n = t->numel - at < 2048 ? t->numel - at : 2048;
        dev->k.memcpy_d2h(dev->state, buf, src + at, (size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(buf[i])) {
                *bad = buf[i];
                return at + i;
            }
    }
    return -1;
}

static const char *kind(float v) { return isnan(v) ? "NaN" : "inf"; }

bool lt__anomaly_forward(const lt_tensor_t *out) {
    float v;
    if (lt_last_status() != LT_OK) return true; /* keep the first anomaly's message */
    int64_t at = first_non_finite(out, &v);
    if (at < 0) return true;
    char shape[96];
    const char *op = out->arena->dev->last_op;
    lt_set_error(LT_ERR_NUMERIC,
                 "detect_anomaly: op '%s' produced %s in its output (element %lld of shape %s), "
                 "the first non-finite value of this step; check its inputs (a log or sqrt of a "
                 "negative, a division by zero, a learning rate too high)",
                 op ? op : "?", kind(v), (long long)at, lt__shape_str(out, shape, sizeof shape));
    return false;
}

bool lt__anomaly_backward(const lt_node *n) {
    for (int k = 0; k < LT_NODE_MAX_IN; k++) {
        const lt_tensor_t *in = n->in[k];
        float v;
        if (!in || !in->grad || in->grad_lazy) continue; /* lazy: no gradient written yet */
        int64_t at = first_non_finite(in->grad, &v);
        if (at < 0) continue;
        char shape[96];
        lt_set_error(LT_ERR_NUMERIC,
                     "detect_anomaly: the backward of op '%s' returned %s in the gradient of "
                     "its input %d (element %lld of shape %s); the forward values were finite, "
                     "so look at that op's derivative (sqrt or log near 0, a division by a "
                     "tiny number)",
                     n->span ? n->span : "?", kind(v), k, (long long)at,
                     lt__shape_str(in->grad, shape, sizeof shape));
        return false;
    }
    return true;
}
