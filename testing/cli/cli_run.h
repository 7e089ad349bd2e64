/* cli_run.h - runs a module executable the way Slicer does (fork + exec, stdout and stderr read
 * separately) for the cli tests. */
#ifndef DS_CLI_RUN_H
#define DS_CLI_RUN_H

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct cli_result {
    int code;       /* exit status; 128 + signal when killed; -1 when it could not start */
    char *out, *err;
    size_t out_n, err_n;
    double seconds; /* wall time */
} cli_result;

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

/* Runs argv (NULL-terminated); stdout and stderr are kept NUL-terminated in r. */
static inline void cli_run(char *const argv[], cli_result *r)
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
        execv(argv[0], argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0 && poll(fds, 2, -1) > 0) {
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
    waitpid(pid, &status, 0);
    r->seconds = cli_now() - t0;
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static inline void cli_result_free(cli_result *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
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
