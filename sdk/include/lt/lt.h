/* lt/lt.h — everything a model, data or engineering plugin needs. */
#ifndef LT_LT_H
#define LT_LT_H

#include "version.h"
#include "status.h"
#include "tensor.h"
#include "rng.h"
#include "module.h"
#include "log.h"
#include "trainer.h"
#include "optim.h"
#include "scheduler.h"
#include "data.h"
#include "plugin.h"
#include "profiler.h"
#include "safetensors.h"
#include "custom_op.h" /* issue 19 */
#include "logger.h"

/* The version of the liblt that is running, "0.1.0". */
LT_API const char *lt_version(void);

#endif
