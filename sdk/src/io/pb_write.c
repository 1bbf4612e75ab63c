/* The protobuf wire format by hand (see pb_write.h): varints, fixed-width scalars,
 * length-delimited fields, into a growable buffer. */
#include "pb_write.h"

#include <stdlib.h>
#include <string.h>

void lt__pb_free(lt_pb_buf *b) {
    free(b->p);
    *b = (lt_pb_buf){0};
}

void lt__pb_put(lt_pb_buf *b, const void *data, size_t n) {
    if (b->oom || n == 0) return;
    if (n > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

void lt__pb_put_le(lt_pb_buf *b, uint64_t v, int nbytes) {
    uint8_t o[8];
    for (int i = 0; i < nbytes; i++) o[i] = (uint8_t)(v >> (8 * i));
    lt__pb_put(b, o, (size_t)nbytes);
}

size_t lt__pb_varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void lt__pb_put_varint(lt_pb_buf *b, uint64_t v) {
    uint8_t o[10];
    size_t n = 0;
    for (; v >= 0x80; v >>= 7) o[n++] = (uint8_t)(v | 0x80);
    o[n++] = (uint8_t)v;
    lt__pb_put(b, o, n);
}

void lt__pb_put_key(lt_pb_buf *b, int field, int wire) {
    lt__pb_put_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

void lt__pb_put_double(lt_pb_buf *b, int field, double v) {
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    lt__pb_put_key(b, field, LT_PB_I64);
    lt__pb_put_le(b, bits, 8);
}

void lt__pb_put_float(lt_pb_buf *b, int field, float v) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    lt__pb_put_key(b, field, LT_PB_I32);
    lt__pb_put_le(b, bits, 4);
}

void lt__pb_put_int(lt_pb_buf *b, int field, int64_t v) {
    lt__pb_put_key(b, field, LT_PB_VARINT);
    lt__pb_put_varint(b, (uint64_t)v);
}

void lt__pb_put_bytes(lt_pb_buf *b, int field, const void *data, size_t n) {
    lt__pb_put_key(b, field, LT_PB_LEN);
    lt__pb_put_varint(b, n);
    lt__pb_put(b, data, n);
}

void lt__pb_put_string(lt_pb_buf *b, int field, const char *s) {
    lt__pb_put_bytes(b, field, s, strlen(s));
}

void lt__pb_put_message(lt_pb_buf *b, int field, const lt_pb_buf *msg) {
    if (msg->oom) b->oom = true;
    lt__pb_put_bytes(b, field, msg->p, msg->len);
}
