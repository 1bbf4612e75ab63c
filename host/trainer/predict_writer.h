/* predict_writer.h — predict_step outputs of every batch, concatenated along the first
 * dimension into one .npy (numpy's format, readable with np.load) or .csv file. */
#ifndef LTHOST_PREDICT_WRITER_H
#define LTHOST_PREDICT_WRITER_H

#include <lt/lt.h>
#include <stdbool.h>

typedef struct predict_writer predict_writer;
struct session;

/* path NULL: <root>/predictions.npy. Writes to path.tmp until closed. NULL + message. */
predict_writer *predict_writer_open(const char *path, const char *root);
/* Append one batch's output (float32 or int64; the same trailing shape every batch). */
bool predict_writer_add(predict_writer *w, lt_tensor_t *out, int64_t batch_idx);
/* Finish the file, move it into place, say where it went; frees w. */
bool predict_writer_close(predict_writer *w, struct session *s);
/* Remove the partial file and free w. */
void predict_writer_abort(predict_writer *w);

#endif
