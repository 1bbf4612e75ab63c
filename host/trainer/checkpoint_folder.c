/* What lthost may delete in a checkpoint folder. A checkpoint's callback state names
 * files (best_model_path, best_k_models, ...), and the file is untrusted: a path read
 * from it is removed only when it resolves to a plain file directly inside the folder
 * this run saves to. Also the clean-up of temporary files that a killed save left. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "trainer.h"

/* A name a checkpoint file may have: not empty, no '/', not "." or "..". */
static bool plain_name(const char *name) {
    return *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* Whether path names a plain file name directly inside dir once both are resolved
 * (realpath); else false with the reason in why. */
static bool path_in_folder(const char *path, const char *dir, char *why, size_t n) {
    const char *slash = strrchr(path, '/');
    if (!slash || !plain_name(slash + 1)) {
        snprintf(why, n, "it does not name a file inside a folder");
        return false;
    }
    char parent[PATH_MAX], real_parent[PATH_MAX], real_dir[PATH_MAX];
    size_t len = (size_t)(slash - path);
    if (len == 0 || len >= sizeof parent) {
        snprintf(why, n, "its folder is not %s", dir);
        return false;
    }
    memcpy(parent, path, len);
    parent[len] = '\0';
    if (!realpath(parent, real_parent) || !realpath(dir, real_dir) ||
        strcmp(real_parent, real_dir)) {
        snprintf(why, n, "it is not a file in this run's checkpoint folder %s", dir);
        return false;
    }
    return true;
}

removal checkpoint_file_removable(const char *path, const char *dir, const char *resumed, char *why,
                                  size_t n) {
    struct stat st, from;
    if (!path_in_folder(path, dir, why, n)) return KEEP_OUTSIDE;
    if (lstat(path, &st) != 0) return KEEP_QUIETLY;
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, n, "it is %s, not a checkpoint file",
                 S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
        return KEEP_AND_SAY;
    }
    bool is_resumed = *resumed && stat(resumed, &from) == 0 && from.st_dev == st.st_dev &&
                      from.st_ino == st.st_ino;
    return is_resumed ? KEEP_QUIETLY : REMOVE;
}

/* ".<name>.ckpt.tmp.<pid>", the temp file liblt's atomic save writes beside <name>.ckpt
 * (sdk/src/io/safetensors_write.c): its pid, or 0 for any other name. */
static long temp_file_pid(const char *name) {
    const char *tmp = strstr(name, ".ckpt.tmp.");
    if (name[0] != '.' || !tmp || tmp == name + 1 || strstr(tmp + 1, ".ckpt.tmp.")) return 0;
    const char *digits = tmp + strlen(".ckpt.tmp.");
    if (!*digits || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 9) return 0;
    return strtol(digits, NULL, 10);
}

/* Left by a process that is gone, and untouched for a minute (a save in progress in
 * another PID namespace keeps writing). */
static bool stale(int dfd, const char *name, long pid, time_t now) {
    struct stat st;
    if (pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH)) return false;
    return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
           now - st.st_mtime > 60;
}

int checkpoint_folder_clean_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        long pid = temp_file_pid(e->d_name);
        if (!stale(dirfd(d), e->d_name, pid, now)) continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
            fprintf(stderr,
                    "lthost: removed %s/%s, a partial checkpoint left by process %ld, "
                    "which was killed while saving\n",
                    dir, e->d_name, pid);
            removed++;
        }
    }
    closedir(d);
    return removed;
}
