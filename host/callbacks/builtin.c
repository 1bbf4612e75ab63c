/* The callbacks lthost ships, by Lightning's class names (with or without the module
 * path, as LightningCLI accepts them). */
#include <string.h>

#include "../trainer/trainer.h"

extern const lt_callback_desc early_stopping_callback, lr_monitor_callback;

const lt_callback_desc *builtin_callback(const char *name, bool *monitoring) {
    const char *dot = strrchr(name, '.');
    const char *base = dot && !strchr(name, '/') ? dot + 1 : name;
    if (!strcmp(base, "EarlyStopping")) {
        *monitoring = true;
        return &early_stopping_callback;
    }
    if (!strcmp(base, "ModelCheckpoint")) {
        *monitoring = true;
        return &model_checkpoint_callback;
    }
    if (!strcmp(base, "LearningRateMonitor")) {
        *monitoring = false;
        return &lr_monitor_callback;
    }
    return NULL;
}
