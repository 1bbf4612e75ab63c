/* pb_write.h — the protobuf wire format, written by hand: the few encoders that the
 * TensorBoard event writer (host/loggers/tensorboard.c) and the ONNX exporter
 * (sdk/src/export/) need, and a growable byte buffer. Compiled into liblt (hidden) and
 * into lthost's static library, from the one pb_write.c.
 *
 * A failed growth sticks (oom), so a writer checks once at the end. Nested messages are
 * encoded into their own buffer, then put as a length-delimited field. */
#ifndef LT_PB_WRITE_H
#define LT_PB_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lt_pb_buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} lt_pb_buf;

enum { LT_PB_VARINT = 0, LT_PB_I64 = 1, LT_PB_LEN = 2, LT_PB_I32 = 5 };

void lt__pb_free(lt_pb_buf *b);
void lt__pb_put(lt_pb_buf *b, const void *data, size_t n);
/* v in nbytes little-endian bytes, whatever the host. */
void lt__pb_put_le(lt_pb_buf *b, uint64_t v, int nbytes);
size_t lt__pb_varint_len(uint64_t v);
void lt__pb_put_varint(lt_pb_buf *b, uint64_t v);
void lt__pb_put_key(lt_pb_buf *b, int field, int wire);
void lt__pb_put_double(lt_pb_buf *b, int field, double v);
void lt__pb_put_float(lt_pb_buf *b, int field, float v);
/* A varint field (int32/int64/enum; negative values as 10-byte two's complement). */
void lt__pb_put_int(lt_pb_buf *b, int field, int64_t v);
void lt__pb_put_string(lt_pb_buf *b, int field, const char *s);
/* A length-delimited field holding n bytes (bytes, or an encoded message). */
void lt__pb_put_bytes(lt_pb_buf *b, int field, const void *data, size_t n);
/* Message `msg` as field `field` of b; msg's oom carries over. */
void lt__pb_put_message(lt_pb_buf *b, int field, const lt_pb_buf *msg);

#endif
