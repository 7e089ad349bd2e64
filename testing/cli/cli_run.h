/* cli_run.h - runs a module executable the way Slicer does (fork + exec, stdout and stderr read
 * separately) for the cli tests. */
#ifndef DS_CLI_RUN_H
#define DS_CLI_RUN_H

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct cli_result {
    int code;       /* exit status; 128 + signal when killed; -1 when it could not start */
    char *out, *err;
    size_t out_n, err_n;
    double seconds; /* wall time */
    long max_rss_kib; /* peak resident memory of the largest child so far: a bound on this one's */
} cli_result;

/* What cli_run_with changes in the child before exec, and a hook called in the parent every
 * 10 ms or so while the child runs, with its output so far (the reliability tests sample its
 * memory there). Zero: nothing. */
typedef struct cli_limits {
    long long fsize_bytes;  /* RLIMIT_FSIZE, SIGXFSZ ignored: writes past it fail with EFBIG */
    long long as_bytes;     /* RLIMIT_AS: an allocation the run should not make fails */
    int as_nobody;          /* run as uid / gid 65534 (when root, so that permissions bite) */
    void (*watch)(pid_t pid, const char *out, void *user);
    void *user;
} cli_limits;

static inline double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline void cli_append(char **buf, size_t *n, const char *data, size_t len)
{
    char *grown = realloc(*buf, *n + len + 1);
    if (!grown)
        abort();
    memcpy(grown + *n, data, len);
    *n += len;
    grown[*n] = '\0';
    *buf = grown;
}

static inline void cli_child_limits(const cli_limits *lim)
{
    if (lim->fsize_bytes > 0) {
        struct rlimit rl = {(rlim_t)lim->fsize_bytes, (rlim_t)lim->fsize_bytes};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
    }
    if (lim->as_bytes > 0) {
        struct rlimit rl = {(rlim_t)lim->as_bytes, (rlim_t)lim->as_bytes};
        setrlimit(RLIMIT_AS, &rl);
    }
    if (lim->as_nobody && (setgid(65534) != 0 || setuid(65534) != 0))
        _exit(126);
}

/* Runs argv (NULL-terminated) under lim (NULL: none); stdout and stderr are kept NUL-terminated
 * in r. */
static inline void cli_run_with(char *const argv[], const cli_limits *lim, cli_result *r)
{
    memset(r, 0, sizeof *r);
    cli_append(&r->out, &r->out_n, "", 0);
    cli_append(&r->err, &r->err_n, "", 0);
    int po[2], pe[2];
    if (pipe(po) != 0 || pipe(pe) != 0) {
        r->code = -1;
        return;
    }
    const double t0 = cli_now();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]), close(pe[0]), close(po[1]), close(pe[1]);
        if (lim)
            cli_child_limits(lim);
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    const int watched = lim && lim->watch;
    while (open_fds > 0) {
        const int ready = poll(fds, 2, watched ? 10 : -1);
        if (ready < 0)
            break;
        if (watched)
            lim->watch(pid, r->out, lim->user);
        for (int k = 0; k < 2; ++k) {
            if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP)))
                continue;
            char buf[65536];
            ssize_t got = read(fds[k].fd, buf, sizeof buf);
            if (got > 0) {
                cli_append(k ? &r->err : &r->out, k ? &r->err_n : &r->out_n, buf, (size_t)got);
            } else {
                close(fds[k].fd);
                fds[k].fd = -1;
                --open_fds;
            }
        }
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    waitpid(pid, &status, 0);
    getrusage(RUSAGE_CHILDREN, &ru);
    r->max_rss_kib = ru.ru_maxrss;
    r->seconds = cli_now() - t0;
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs argv (NULL-terminated); stdout and stderr are kept NUL-terminated in r. */
static inline void cli_run(char *const argv[], cli_result *r)
{
    cli_run_with(argv, NULL, r);
}

static inline void cli_result_free(cli_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* dir/name in one of 64 rotating buffers: enough for the paths of one command line. */
static inline char *cli_path(const char *dir, const char *name)
{
    static char buf[64][512];
    static int next;
    char *p = buf[next++ % 64];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

/* Removes the folder tree dir (a test's temporary folder); 0 when it is gone. */
static inline int cli_remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

/* Starts argv with stdout and stderr to /dev/null; returns the pid. */
static inline pid_t cli_spawn(char *const argv[])
{
    fflush(stdout); /* or the child's freopen prints our buffer a second time */
    pid_t pid = fork();
    if (pid == 0) {
        FILE *null = freopen("/dev/null", "w", stdout);
        (void)null;
        null = freopen("/dev/null", "w", stderr);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Number of lines of a text (a last line without '\n' counts). */
static inline int cli_lines(const char *t)
{
    int n = 0;
    for (const char *c = t; *c; ++c)
        n += *c == '\n' || (c[1] == '\0');
    return n;
}

#endif
