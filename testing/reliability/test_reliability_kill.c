/* test_reliability_kill - the kill -9 campaign of issue 15: DualSegTrain (tiny phantom cohort,
 * width 2, 16^3 crops, a checkpoint after every step) is killed with SIGKILL at seven moments of
 * different kinds, resumed each time, and run to its end:
 *   - while a checkpoint is being written: inotify reports the creation of the atomic writer's
 *     temporary file (<checkpoint>.tmp.XXXXXX, ds_atomic_file.h) and the parent kills at once;
 *     a kill counts as "during the write" when that temporary file is still there afterwards;
 *   - right after a checkpoint was renamed into place;
 *   - at pseudo-random times (fixed seed) in the first 25 % of an uninterrupted run's time, which
 *     also lands in the loading of the cases;
 *   - while the final model is being written.
 * After every kill, every model and checkpoint file on disk (any name without ".tmp.") must load
 * with ds_model_load, and no return parameter file may exist. The final model must hold, bit for
 * bit, the weights and BatchNorm statistics of an uninterrupted run with the same seed and
 * threads. Reference: the trainer's exact-resume guarantee (ds_train.h) and the atomic writer's
 * whole-or-nothing guarantee (ds_atomic_file.h). */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "cli_check.h"
#include "cli_data.h"
#include "cli_model.h"
#include "ds_model.h"

static char g_tmp[256];
static ds_ctx *g_ctx;

typedef enum moment {
    CHECKPOINT_WRITE, /* at the creation of the n-th checkpoint temporary file */
    AFTER_CHECKPOINT, /* at the n-th checkpoint renamed into place */
    RANDOM_TIME,      /* at a seeded random time */
    MODEL_WRITE       /* at the creation of the final model's temporary file */
} moment;

static const struct {
    moment when;
    int n;
} g_plan[] = {{CHECKPOINT_WRITE, 2}, {RANDOM_TIME, 0}, {AFTER_CHECKPOINT, 3},
              {CHECKPOINT_WRITE, 4}, {RANDOM_TIME, 0}, {CHECKPOINT_WRITE, 1},
              {RANDOM_TIME, 0},      {MODEL_WRITE, 1}};
#define PLAN_COUNT (int)(sizeof g_plan / sizeof g_plan[0])

static char *path_in(const char *name) { return cli_path(g_tmp, name); }

static void build_argv(char **argv, const char *model, const char *ret)
{
    static char *common[] = {DS_TRAIN_EXE, "--threads", "1", "--width", "2", "--patch", "16,16,16",
                             "--unlabelledBatch", "1", "--iterations", "20",
                             "--checkpointMinutes", "0", "--cohort", NULL};
    int n = 0;
    for (char **c = common; *c; ++c)
        argv[n++] = *c;
    argv[n++] = path_in("cohort");
    argv[n++] = "--model", argv[n++] = (char *)model;
    argv[n++] = "--returnparameterfile", argv[n++] = (char *)ret;
    argv[n] = NULL;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Every file of the run's folder that is not a temporary one loads; returns how many temporary
 * files there are. */
static int check_files(const char *dir, int round)
{
    DIR *d = opendir(dir);
    int temporaries = 0;
    DS_CHECK(d != NULL);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.' || !strstr(e->d_name, ".dsm"))
            continue; /* the return parameter file */
        if (strstr(e->d_name, ".tmp.")) {
            ++temporaries;
            continue;
        }
        char path[800];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ds_model *m = NULL;
        DS_CHECK_MSG(ds_model_load(g_ctx, &m, path) == DS_OK, "kill %d: %s does not load: %s",
                     round, path, ds_ctx_message(g_ctx));
        ds_model_free(m);
    }
    if (d)
        closedir(d);
    return temporaries;
}

/* Waits for the n-th inotify event of the kind `when` in the run's folder (or the child's end);
 * returns 1 when it came. */
static int wait_event(int fd, moment when, int n, pid_t pid, int *exited, int *status)
{
    int seen = 0;
    while (!*exited) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 20) > 0) {
            char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
            ssize_t got = read(fd, buf, sizeof buf);
            for (char *c = buf; got > 0 && c < buf + got;) {
                const struct inotify_event *e = (const struct inotify_event *)c;
                c += sizeof *e + e->len;
                if (!e->len)
                    continue;
                int hit = 0;
                if (when == AFTER_CHECKPOINT)
                    hit = (e->mask & IN_MOVED_TO) && strcmp(e->name, "model.dsm.checkpoint") == 0;
                else
                    hit = (e->mask & IN_CREATE) &&
                          starts_with(e->name, when == MODEL_WRITE ? "model.dsm.tmp."
                                                                    : "model.dsm.checkpoint.tmp.");
                if (hit && ++seen == n)
                    return 1;
            }
        }
        *exited = waitpid(pid, status, WNOHANG) == pid;
    }
    return 0;
}

/* One run killed at its moment; returns 1 when it was killed (0: it finished first). */
static int run_and_kill(int round, double delay, const char *dir, int *mid_write)
{
    char *argv[32], *model = path_in("run/model.dsm"), *ret = path_in("run/ret.txt");
    build_argv(argv, model, ret);
    int fd = inotify_init1(IN_NONBLOCK);
    DS_CHECK(fd >= 0 && inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO) >= 0);
    const int before = check_files(dir, round);
    unlink(ret); /* a run that ends writes it; a killed one must not */
    const double t0 = cli_now();
    pid_t pid = cli_spawn(argv);
    int status = 0, exited = 0;
    const moment when = g_plan[round].when;
    if (when == RANDOM_TIME) {
        while (!exited && cli_now() - t0 < delay) {
            nanosleep(&(struct timespec){0, 2000000}, NULL);
            exited = waitpid(pid, &status, WNOHANG) == pid;
        }
    } else {
        wait_event(fd, when, g_plan[round].n, pid, &exited, &status);
    }
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    close(fd);
    const int killed = !exited && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    const int temporaries = check_files(dir, round);
    const int during = killed && when != RANDOM_TIME && when != AFTER_CHECKPOINT &&
                       temporaries > before;
    *mid_write += during && when == CHECKPOINT_WRITE;
    DS_CHECK_MSG(!killed || !cli_exists(ret), "kill %d: a return file after a kill", round);
    ds_model *ck = NULL;
    long long at = -1;
    if (cli_exists(path_in("run/model.dsm.checkpoint")) &&
        ds_model_load(g_ctx, &ck, path_in("run/model.dsm.checkpoint")) == DS_OK)
        at = (long long)ck->meta.iteration;
    ds_model_free(ck);
    static const char *names[] = {"during a checkpoint write", "after a checkpoint",
                                  "at a random time", "during the final model write"};
    printf("kill %d %s (%.3f s): %s; checkpoint at iteration %lld; %d temporary file(s)%s\n",
           round, names[when], cli_now() - t0, killed ? "killed" : "finished first", at,
           temporaries, during ? "; the kill landed inside the write" : "");
    return killed;
}

int main(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ds_kill_XXXXXX");
    if (!mkdtemp(g_tmp) || ds_ctx_create(&g_ctx) != DS_OK)
        return 1;
    cli_write_cohort(g_ctx, path_in("cohort"), 2, 1);
    char *whole = path_in("whole.dsm"), *ret = path_in("ret_whole.txt"), *argv[32];
    build_argv(argv, whole, ret);
    cli_result r;
    cli_run(argv, &r);
    DS_CHECK_MSG(r.code == 0, "uninterrupted run: exit %d, %s", r.code, r.err);
    const double t_ref = r.seconds;
    printf("uninterrupted run: %.2f s\n", t_ref);
    cli_result_free(&r);

    char dir[300];
    snprintf(dir, sizeof dir, "%s/run", g_tmp);
    mkdir(dir, 0755);
    uint64_t lcg = 20261201; /* the random kill times: a fixed seed */
    int kills = 0, mid_write = 0;
    for (int round = 0; round < PLAN_COUNT; ++round) {
        lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
        const double delay = 0.25 * t_ref * (double)(lcg >> 11) / 9007199254740992.0;
        kills += run_and_kill(round, delay, dir, &mid_write);
    }
    build_argv(argv, path_in("run/model.dsm"), path_in("run/ret.txt"));
    cli_run(argv, &r);
    DS_CHECK_MSG(r.code == 0, "the last resume: exit %d, %s", r.code, r.err);
    cli_result_free(&r);
    printf("%d kills, %d inside a checkpoint write\n", kills, mid_write);
    DS_CHECK_MSG(kills >= 5, "only %d of the %d runs were killed", kills, PLAN_COUNT);
    DS_CHECK_MSG(mid_write >= 1, "no kill landed inside a checkpoint write");
    check_files(dir, PLAN_COUNT);
    ds_model *a = NULL, *b = NULL;
    DS_CHECK_OK(g_ctx, ds_model_load(g_ctx, &a, whole));
    DS_CHECK_OK(g_ctx, ds_model_load(g_ctx, &b, path_in("run/model.dsm")));
    DS_CHECK(a && b && a->meta.iteration == 20 && b->meta.iteration == 20);
    DS_CHECK_MSG(cli_same_weights(g_ctx, a, b), "killed and resumed differs from one run");
    ds_model_free(a);
    ds_model_free(b);
    ds_ctx_free(g_ctx);
    DS_CHECK(cli_remove_tree(g_tmp) == 0);
    return ds_test_finish("test_reliability_kill");
}
