/* tune.h — `lthost tune`: Lightning's Tuner (lr_find) as a fit with a built-in callback. */
#ifndef LTHOST_TUNE_H
#define LTHOST_TUNE_H

#include "../host.h"

/* argv after "tune"; returns the exit code. */
int tune_main(host_config *cfg, int argc, char **argv);
/* `lthost tune --help`: the tuner's options, then the fit flags (and the hparams of the
 * module and data plugin argv names). */
void tune_print_help(host_config *cfg, int argc, char **argv);
/* _LRFinder.suggestion: the index of the steepest descent of loss (n points, NaN losses
 * skipped) after the first 10 and before the last, or -1 when fewer than two remain. */
int lr_find_suggestion(const double *lr, const double *loss, int n);

#endif
