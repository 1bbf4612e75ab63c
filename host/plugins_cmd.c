/* `lthost plugins`: every plugin found, with its kind and ABI, or why it was skipped. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lt/accelerator.h>

#include "host.h"
#include "loggers/loggers.h"

typedef struct {
    int found, skipped;
} scan_counts;

/* An accelerator that says what it runs (its describe slot) is started to say it:
 * "runs OpenBLAS 0.3.21 (Zen kernels), 2 threads", or why it cannot start. In a child
 * process, as the scan loads plugins: an init that crashes or hangs costs one line, not
 * the listing. Others are not started (a GPU's would create a context to say nothing). */
#define DESCRIBE_SECONDS 30

static void describe_child(int fd, const char *path) {
    lt_plugin_t *p = NULL;
    char line[1024] = "";
    if (lt_plugin_open(LT_PLUGIN_ACCELERATOR, path, NULL, &p) == LT_OK &&
        ((const lt_accelerator_desc *)lt_plugin_desc(p))->describe) {
        lt_device_t *dev = NULL;
        if (lt_device_from_plugin(p, 0, &dev) == LT_OK)
            snprintf(line, sizeof line, "runs %s", lt_device_describe(dev));
        else
            snprintf(line, sizeof line, "cannot start: %s", lt_last_error());
        lt_device_close(dev);
    } else {
        lt_plugin_close(p);
    }
    size_t n = strlen(line);
    _exit(write(fd, line, n) == (ssize_t)n ? 0 : 1);
}

/* What the child wrote, until it closes the pipe or DESCRIBE_SECONDS pass (false). */
static bool read_line(int fd, char *buf, size_t size) {
    size_t got = 0;
    time_t until = time(NULL) + DESCRIBE_SECONDS;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(until - time(NULL));
        if (left <= 0 || poll(&p, 1, left * 1000) == 0) return false;
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || (got += (size_t)n) == size - 1) break;
    }
    buf[got] = '\0';
    return true;
}

static void print_accelerator_line(const char *path) {
    int fds[2];
    if (pipe(fds) != 0) return;
    fflush(stdout); /* the child must not print our buffer a second time */
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        describe_child(fds[1], path);
    }
    close(fds[1]);
    char line[1024] = "";
    bool done = pid > 0 && read_line(fds[0], line, sizeof line);
    close(fds[0]);
    if (pid < 0) return;
    if (!done) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!done)
        snprintf(line, sizeof line, "cannot start: its init did not finish within %d s",
                 DESCRIBE_SECONDS);
    else if (!line[0] && WIFSIGNALED(status))
        snprintf(line, sizeof line, "cannot start: its init crashed (signal %d, %s)",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    if (line[0]) printf("  %-12s %-16s %s\n", "", "", line);
}

static void print_plugin(void *user, const lt_plugin_info *info) {
    scan_counts *c = user;
    if (info->ok) {
        printf("  %-12s %-16s ABI %u.%u  %s\n", lt_plugin_kind_name(info->kind), info->name,
               info->abi_major, info->abi_minor, info->path);
        if (info->kind == LT_PLUGIN_ACCELERATOR) print_accelerator_line(info->path);
        c->found++;
    } else {
        printf("  %-12s %-16s skipped: %s\n", "-", "-", info->why);
        c->skipped++;
    }
}

int plugins_command(const host_config *cfg) {
    scan_counts c = {0, 0};
    printf("plugins (kind, name, ABI, path); this lthost speaks plugin ABI %d.%d:\n", LT_ABI_MAJOR,
           LT_ABI_MINOR);
    lt_plugin_scan(cfg->plugin_roots, print_plugin, &c);
    printf("%d plugins found, %d skipped\n", c.found, c.skipped);
    printf("built into lthost:\n");
    int i = 0;
    for (const char *name; (name = builtin_callback_name(i)); i++)
        printf("  %-12s %-16s --callbacks %s\n", "callback", name, name);
    int n_callbacks = i;
    for (const char *name; (name = builtin_logger_name(i - n_callbacks)); i++)
        printf("  %-12s %-16s --logger %s\n", "logger", name, name);
    return 0;
}

/* The flag that takes each kind, for "pass it with --data". */
static const char *const kind_flag[LT_PLUGIN_KIND_COUNT] = {
    [LT_PLUGIN_MODULE] = "--module",     [LT_PLUGIN_ACCELERATOR] = "--accelerator",
    [LT_PLUGIN_STRATEGY] = "--strategy", [LT_PLUGIN_PROFILER] = "--profiler",
    [LT_PLUGIN_DATA] = "--data",         [LT_PLUGIN_CALLBACK] = "--callbacks",
    [LT_PLUGIN_LOGGER] = "--logger",
};

/* The kind a plugin file is, when it is not `want` (LT_PLUGIN_KIND_COUNT: none). */
static lt_plugin_kind other_kind(const host_config *cfg, lt_plugin_kind want, const char *name) {
    struct stat st;
    if (stat(name, &st) != 0 || !S_ISREG(st.st_mode)) return LT_PLUGIN_KIND_COUNT;
    for (int k = 0; k < LT_PLUGIN_KIND_COUNT; k++) {
        lt_plugin_t *p = NULL;
        if (k != (int)want &&
            lt_plugin_open((lt_plugin_kind)k, name, cfg->plugin_roots, &p) == LT_OK) {
            lt_plugin_close(p);
            return (lt_plugin_kind)k;
        }
    }
    return LT_PLUGIN_KIND_COUNT;
}

bool host_open_plugin(const host_config *cfg, lt_plugin_kind kind, const char *name,
                      lt_plugin_t **out) {
    if (lt_plugin_open(kind, name, cfg->plugin_roots, out) == LT_OK) return true;
    char why[2048];
    snprintf(why, sizeof why, "%s", lt_last_error());
    lt_plugin_kind k = other_kind(cfg, kind, name);
    lt_clear_error();
    if (k == LT_PLUGIN_KIND_COUNT)
        host_error("%s", why);
    else
        host_error("%s (pass it with %s)", why, kind_flag[k]);
    return false;
}
