/* The progress bar: on a terminal, one line redrawn at most ten times a second, as
 * Lightning's TQDMProgressBar ("Epoch 3: 45%|####  | 387/860 [00:01<00:01, 301.2it/s,
 * train_loss=0.41]"); elsewhere (and under DDP) nothing, since the loops print one line
 * per epoch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trainer.h"

#define BAR_WIDTH 20

/* Whether stdout is the user's terminal. Open MPI gives every rank a pseudo-terminal
 * whatever mpirun's own stdout is (a file, a pipe), so a rank cannot tell: the launcher
 * lthost starts says in LTHOST_STDOUT_TTY; under an mpirun the user started, the loops
 * print the per-epoch lines, the format of a run whose output is not a terminal, rather
 * than a bar that a log file would get as carriage returns. */
bool stdout_is_terminal(const session *s) {
    if (s->group.world <= 1) return isatty(STDOUT_FILENO);
    const char *launcher_tty = getenv("LTHOST_STDOUT_TTY");
    return launcher_tty && !strcmp(launcher_tty, "1");
}

static void draw(session *s, double now);

void bar_start(session *s, const char *desc, int64_t total) {
    progress_bar *b = &s->bar;
    b->enabled = s->cfg->enable_progress_bar && s->group.rank == 0 && !s->tr.sanity_checking;
    b->tty = b->enabled && stdout_is_terminal(s);
    b->desc = desc;
    b->total = total;
    b->done = 0;
    b->t_start = b->t_last_draw = now_seconds();
    b->last_len = 0;
    if (b->tty) draw(s, b->t_start); /* shown from 0%, as tqdm does, so lt_print finds it */
}

static void clock_text(double seconds, char *buf, size_t n) {
    long t = seconds < 0 || seconds > 3.6e8 ? 0 : (long)(seconds + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

static void draw(session *s, double now) {
    progress_bar *b = &s->bar;
    double elapsed = now - b->t_start, rate = elapsed > 0 ? (double)b->done / elapsed : 0.0;
    int64_t total = b->total > 0 ? b->total : 1;
    int filled = (int)(BAR_WIDTH * b->done / total);
    char bar[BAR_WIDTH + 1], spent[64], left[64];
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : ' ';
    bar[BAR_WIDTH] = '\0';
    clock_text(elapsed, spent, sizeof spent);
    clock_text(rate > 0 ? (double)(b->total - b->done) / rate : 0.0, left, sizeof left);
    int len =
        printf("\r%s: %3d%%|%s| %lld/%lld [%s<%s, %.2fit/s", b->desc, (int)(100 * b->done / total),
               bar, (long long)b->done, (long long)b->total, spent, left, rate);
    if (s->log.version_dir[0]) {
        const char *v = strrchr(s->log.version_dir, '_');
        len += printf(", v_num=%s", v ? v + 1 : "0");
    }
    const lt_trainer_t *tr = &s->tr;
    for (int i = 0; i < tr->n_callback_metrics; i++)
        if (s->log.callback_flags[i] & LT_LOG_PROG_BAR)
            len += printf(", %s=%.3g", tr->callback_metrics[i].name, tr->callback_metrics[i].value);
    len += printf("]");
    if (len < b->last_len) printf("%*s", b->last_len - len, ""); /* wipe the longer old line */
    b->last_len = len;
    fflush(stdout);
    b->t_last_draw = now;
}

bool bar_due(const session *s) { return s->bar.tty && now_seconds() - s->bar.t_last_draw >= 0.1; }

void bar_update(session *s, int64_t done) {
    s->bar.done = done;
    if (bar_due(s)) draw(s, now_seconds());
}

/* lt_print's host service, Lightning's TQDMProgressBar.print: a bar on the line is wiped
 * (carriage return, blanks, carriage return), the text gets its own line, and the bar is
 * drawn again below it; without a bar on screen the text is printed as it is. */
void bar_print_line(lt_trainer_t *tr, const char *text) {
    session *s = tr->host;
    bool drawn = s->bar.tty && s->bar.last_len > 0;
    if (drawn) printf("\r%*s\r", s->bar.last_len, "");
    printf("%s\n", text);
    if (drawn) {
        s->bar.last_len = 0;
        draw(s, now_seconds());
    }
    fflush(stdout);
}

void bar_finish(session *s) {
    if (!s->bar.tty) return;
    draw(s, now_seconds());
    putchar('\n');
    s->bar.tty = false;
}
