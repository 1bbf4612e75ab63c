/* lt_plugin_scan: every *.so in the places a bare name is looked up, with whether it
 * loads and, when not, the loader's own refusal — what `lthost plugins` prints. The
 * checks are loader.c's (through plugin_impl.h), so a scan never disagrees with an
 * actual open. Each file is loaded in a child process: loading runs the plugin's code,
 * and one broken file must not end the listing of the others. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plugin_impl.h"

/* How long one file may take to load before the scan gives up on it. Generous: a CUDA
 * accelerator initialises a driver, and under valgrind everything is slow. */
#define PROBE_SECONDS 60

typedef struct scan {
    void (*fn)(void *user, const lt_plugin_info *info);
    void *user;
    char **seen; /* realpaths already reported */
    size_t nseen, cap;
} scan;

/* ---- reporting one file -------------------------------------------------------------- */

/* True when path's real file was reported before (one file, reached via two roots or
 * a symlink, is one plugin); otherwise remembers it. */
static bool seen_before(scan *s, const char *path) {
    char *real = realpath(path, NULL);
    if (!real) return false;
    for (size_t i = 0; i < s->nseen; i++) {
        if (strcmp(s->seen[i], real) == 0) {
            free(real);
            return true;
        }
    }
    if (s->nseen == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        char **grown = realloc(s->seen, cap * sizeof *grown);
        if (!grown) { /* worst case a duplicate line; never a missing one */
            free(real);
            return false;
        }
        s->seen = grown;
        s->cap = cap;
    }
    s->seen[s->nseen++] = real;
    return false;
}

/* What a probe child sends back: fixed size, so a short read means it died first. */
typedef struct probe_result {
    int ok;
    lt_plugin_kind kind;
    uint32_t abi_major, abi_minor;
    char name[LT_PLUGIN_NAME_MAX + 1];
    char why[1024];
} probe_result;

/* In the child: load and check path as an actual open would, send the result, and
 * leave without running anyone's atexit handlers or destructors. Signals a plugin may
 * die of take their default action so the parent sees which one it was. */
static _Noreturn void probe_child(int fd, const char *path) {
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], SIG_DFL);
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) { /* a plugin's own prints must not interleave with the listing */
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
    }
    probe_result res = {.kind = LT_PLUGIN_KIND_COUNT};
    void *desc = NULL;
    void *handle = lt__plugin_dlopen(path);
    if (handle && lt__plugin_probe(handle, path, &res.kind) &&
        lt__plugin_check(handle, path, res.kind, &desc) == LT_OK) {
        const lt__desc_header *h = desc;
        res.ok = 1;
        snprintf(res.name, sizeof res.name, "%s", h->name);
        res.abi_major = h->abi_major;
        res.abi_minor = h->abi_minor;
    } else {
        snprintf(res.why, sizeof res.why, "%s", lt_last_error());
    }
    _exit(write(fd, &res, sizeof res) == (ssize_t)sizeof res ? 0 : 1);
}

typedef enum { PROBE_DONE, PROBE_ENDED, PROBE_TIMED_OUT } probe_outcome;

/* Reads the child's result, waiting at most PROBE_SECONDS in all. ENDED: the pipe
 * closed before all of it came (the child died or exited). */
static probe_outcome read_result(int fd, probe_result *res) {
    size_t got = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (got < sizeof *res) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited_ms =
            (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left_ms = PROBE_SECONDS * 1000 - (int)waited_ms;
        if (left_ms <= 0 || poll(&p, 1, left_ms) == 0) return PROBE_TIMED_OUT;
        ssize_t n = read(fd, (char *)res + got, sizeof *res - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return PROBE_ENDED; /* the child ended without a word */
        got += (size_t)n;
    }
    return PROBE_DONE;
}

/* Why a child that sent nothing ended: killed by a signal, exited, or stuck. */
static void explain_death(const char *path, int status, bool stuck, char *why, size_t n) {
    const char *tail = "; fix or remove the file (loading a plugin runs its code: with fit it "
                       "would do the same to lthost)";
    if (stuck)
        snprintf(why, n,
                 "%s: loading it did not finish within %d s (a constructor or its entry "
                 "function hangs)%s",
                 path, PROBE_SECONDS, tail);
    else if (WIFSIGNALED(status))
        snprintf(why, n,
                 "%s: loading it killed the process with signal %d (%s): its "
                 "constructor or entry function crashed%s",
                 path, WTERMSIG(status), strsignal(WTERMSIG(status)), tail);
    else
        snprintf(why, n,
                 "%s: loading it ended the process with exit status %d before its "
                 "entry could be checked: a constructor or its entry function calls "
                 "exit()%s",
                 path, WIFEXITED(status) ? WEXITSTATUS(status) : -1, tail);
}

/* Loads path in a child process, so that a plugin whose constructor or entry crashes,
 * exits or hangs is one skipped line, not the end of the listing. */
static void probe(const char *path, probe_result *res) {
    int fds[2];
    memset(res, 0, sizeof *res);
    res->kind = LT_PLUGIN_KIND_COUNT;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(res->why, sizeof res->why, "%s: cannot probe it: pipe: %s", path, strerror(errno));
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(res->why, sizeof res->why, "%s: cannot probe it: fork: %s", path, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        probe_child(fds[1], path);
    }
    close(fds[1]);
    probe_outcome outcome = read_result(fds[0], res);
    close(fds[0]);
    bool stuck = outcome == PROBE_TIMED_OUT;
    if (stuck) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (outcome != PROBE_DONE) {
        memset(res, 0, sizeof *res);
        res->kind = LT_PLUGIN_KIND_COUNT;
        explain_death(path, status, stuck, res->why, sizeof res->why);
    }
    res->name[sizeof res->name - 1] = res->why[sizeof res->why - 1] = '\0';
}

static void report(scan *s, const char *path) {
    if (seen_before(s, path)) return;
    probe_result res;
    probe(path, &res);
    lt_plugin_info info = {.path = path, .ok = res.ok == 1, .kind = res.kind};
    if (info.ok && (unsigned)res.kind < LT_PLUGIN_KIND_COUNT) {
        info.name = res.name;
        info.abi_major = res.abi_major;
        info.abi_minor = res.abi_minor;
    } else {
        info.ok = 0;
        info.kind = LT_PLUGIN_KIND_COUNT;
        info.why = res.why;
    }
    s->fn(s->user, &info);
}

/* ---- walking the places ------------------------------------------------------------- */

static bool is_so(const char *name) {
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static void visit(scan *s, const char *dir, const char *name, bool nested) {
    char p[PATH_MAX];
    struct stat st;
    if (name[0] == '.' || !lt__path_join(p, sizeof p, "%s/%s", dir, name) || stat(p, &st) != 0)
        return;
    if (S_ISREG(st.st_mode) && is_so(name))
        report(s, p);
    else if (nested && S_ISDIR(st.st_mode) &&
             lt__path_join(p, sizeof p, "%s/%s/%s.so", dir, name, name) && lt__is_file(p))
        report(s, p);
}

/* Every <dir>/<x>.so and, when nested, <dir>/<x>/<x>.so, in name order so the listing
 * is stable. A folder that does not exist is simply empty. */
static void walk(scan *s, const char *dir, bool nested) {
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0) return;
    for (int i = 0; i < n; i++) {
        visit(s, dir, ents[i]->d_name, nested);
        free(ents[i]);
    }
    free(ents);
}

/* The same layouts the loader searches (see lt__place_fn). */
static bool scan_place(void *user, const char *dir, bool path_dir) {
    scan *s = user;
    char kd[PATH_MAX];
    if (path_dir) walk(s, dir, false);
    for (int k = 0; k < LT_PLUGIN_KIND_COUNT; k++)
        if (lt__path_join(kd, sizeof kd, "%s/%s", dir, lt_plugin_kind_dir((lt_plugin_kind)k)))
            walk(s, kd, !path_dir);
    return true;
}

void lt_plugin_scan(const char *const *extra_roots,
                    void (*fn)(void *user, const lt_plugin_info *info), void *user) {
    if (!fn) return;
    /* Refusals here are reports, not a failure of this call: keep the caller's error. */
    char saved[1024];
    lt_status saved_status = lt_last_status();
    snprintf(saved, sizeof saved, "%s", lt_last_error());
    scan s = {.fn = fn, .user = user};
    lt__plugin_places(extra_roots, scan_place, &s);
    for (size_t i = 0; i < s.nseen; i++) free(s.seen[i]);
    free(s.seen);
    if (saved_status == LT_OK)
        lt_clear_error();
    else
        lt_set_error(saved_status, "%s", saved);
}
