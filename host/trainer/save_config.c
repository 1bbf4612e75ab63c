/* LightningCLI's SaveConfigCallback: the run's resolved configuration (the --print_config
 * YAML, with the seed the run drew) as <log_dir>/config.yaml, so `--config` on that file
 * runs the same configuration again. Like Lightning it refuses to replace a config.yaml
 * that is already there (a fixed --logger.version re-using a folder) unless
 * --save_config_overwrite true. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "trainer.h"

bool save_config_file(session *s) {
    const host_config *c = s->cfg;
    if (!c->save_config) return true;
    char path[sizeof s->log.version_dir + 16];
    snprintf(path, sizeof path, "%s/config.yaml", s->log.version_dir);
    /* O_EXCL: even a file created between a check and the write is never replaced */
    int flags = O_WRONLY | O_CREAT | (c->save_config_overwrite ? O_TRUNC : O_EXCL);
    int fd = open(path, flags, 0666);
    if (fd < 0 && errno == EEXIST) {
        host_error("SaveConfigCallback: %s already exists; refusing to overwrite the config of a "
                   "previous run: delete it, pass --save_config_overwrite true, or "
                   "--save_config false",
                   path);
        return false;
    }
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        host_error("SaveConfigCallback: cannot create %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return false;
    }
    /* lthost tune records the user's flags, not those of its sweep */
    const host_config *saved = c->config_to_save ? c->config_to_save : c;
    bool ok =
        emit_resolved_config(f, saved, s->seed, s->module.ctx, s->data.ctx, s->log.callback_ctx);
    if (fclose(f) != 0 && ok) {
        host_error("SaveConfigCallback: cannot write %s: %s", path, strerror(errno));
        ok = false;
    }
    return ok;
}
