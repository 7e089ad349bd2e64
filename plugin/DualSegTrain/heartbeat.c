/* heartbeat.c - keeps Slicer's progress alive while one training step (or one case's loading)
 * takes longer than Slicer's 5 s: a thread repeats the last progress every 3 s, so the comment's
 * time left stays current and the user sees the module is still working. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "train_module.h"

struct train_heartbeat {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    ds_cli *cli;
    double fraction;
    char comment[200];
    int stop;
};

static void *beat(void *arg)
{
    train_heartbeat *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_sec += 3;
        if (pthread_cond_timedwait(&h->wake, &h->lock, &at) == ETIMEDOUT && !h->stop)
            ds_cli_progress(h->cli, h->fraction, h->comment[0] ? h->comment : NULL);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

train_heartbeat *train_heartbeat_start(ds_cli *cli)
{
    static train_heartbeat h; /* one per process: the module runs one training */
    memset(&h, 0, sizeof h);
    h.cli = cli;
    if (pthread_mutex_init(&h.lock, NULL) != 0)
        return NULL;
    if (pthread_cond_init(&h.wake, NULL) != 0) {
        pthread_mutex_destroy(&h.lock);
        return NULL;
    }
    if (pthread_create(&h.thread, NULL, beat, &h) != 0) {
        pthread_cond_destroy(&h.wake);
        pthread_mutex_destroy(&h.lock);
        return NULL;
    }
    return &h;
}

void train_progress(train_heartbeat *h, ds_cli *cli, double fraction, const char *comment)
{
    if (!h) {
        ds_cli_progress(cli, fraction, comment);
        return;
    }
    pthread_mutex_lock(&h->lock);
    h->fraction = fraction;
    snprintf(h->comment, sizeof h->comment, "%s", comment ? comment : "");
    ds_cli_progress(cli, fraction, comment);
    pthread_mutex_unlock(&h->lock);
}

void train_heartbeat_stop(train_heartbeat *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = 1;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
}
