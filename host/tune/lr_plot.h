/* lr_plot.h — lr_find.png: loss against learning rate (log x), the suggestion marked. */
#ifndef LTHOST_LR_PLOT_H
#define LTHOST_LR_PLOT_H

#include <stdbool.h>
#include <stddef.h>

/* n points (non-finite losses are skipped); suggestion: index of the red dot, or -1.
 * false + message in err on failure. */
bool lr_plot_write(const char *path, const double *lr, const double *loss, int n, int suggestion,
                   char *err, size_t errn);

#endif
