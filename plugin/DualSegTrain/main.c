/* DualSegTrain - trains a DualSeg model (the pair of METHOD.md, or a single network) from a volume
 * and its partial labels, unlabelled volumes and cohorts, as a Slicer CLI module. Every parameter
 * is declared in xml/DualSegTrain.xml; this file asks for them by name.
 *
 * Slicer's Cancel is a SIGKILL (SLICER_CLI.md rule 15), so the run is cut into stretches of a few
 * minutes: the progress callback stops the trainer when a stretch is over, the trainer writes its
 * checkpoint (atomically, as it does on every stop), and the next stretch resumes from it, which
 * the trainer makes bit-exact. A killed run loses at most one stretch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds_io.h"
#include "ds_threads.h"
#include "train_module.h"

#define LOAD_SHARE 0.05 /* of the progress bar: loading the cases */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* What the progress callback needs across stretches. */
typedef struct session {
    ds_cli *cli;
    train_heartbeat *heartbeat;
    double stretch_start, stretch_seconds; /* stretch_seconds 0: checkpoint every iteration */
} session;

static int on_progress(void *user, const ds_train_progress *p)
{
    session *s = user;
    char comment[200];
    snprintf(comment, sizeof comment, "Step %lld of %lld, loss %.4g", (long long)p->iteration,
             (long long)p->iterations, p->loss.total[0]);
    train_progress(s->heartbeat, s->cli, LOAD_SHARE + (1 - LOAD_SHARE) * (double)p->iteration /
                                             (double)p->iterations, comment);
    /* never stop at the last step: the stretch after it would run none and report no loss */
    return s->stretch_seconds > 0 && p->iteration < p->iterations &&
           now_seconds() - s->stretch_start >= s->stretch_seconds;
}

static void loss_options(const ds_cli *cli, ds_loss_options *o)
{
    static const struct {
        ds_loss_term term;
        const char *name;
    } w[] = {{DS_LOSS_CE, "weightCE"},   {DS_LOSS_DICE, "weightDice"}, {DS_LOSS_CR, "weightCR"},
             {DS_LOSS_CCE, "weightCCE"}, {DS_LOSS_KL, "weightKL"},     {DS_LOSS_CON, "weightCON"},
             {DS_LOSS_COS, "weightCOS"}};
    static const ds_cli_choice mask[] = {{"global", DS_ENTROPY_MASK_GLOBAL},
                                         {"class-aware", DS_ENTROPY_MASK_CLASS_AWARE}};
    static const ds_cli_choice pseudo[] = {{"per-network", DS_PSEUDO_PER_NETWORK},
                                           {"union", DS_PSEUDO_UNION}};
    static const ds_cli_choice kl[] = {{"both", DS_KL_BOTH}, {"b-teaches-a", DS_KL_B_TEACHES_A}};
    ds_loss_options_init(o);
    for (size_t i = 0; i < sizeof w / sizeof w[0]; ++i) {
        o->weight[w[i].term] = (float)ds_cli_get_double(cli, w[i].name);
        o->enabled[w[i].term] = o->weight[w[i].term] > 0; /* a weight of 0 skips the term */
    }
    o->confidence = (float)ds_cli_get_double(cli, "confidence");
    o->percentile = (float)ds_cli_get_double(cli, "percentile");
    o->mask_mode = (ds_entropy_mask_mode)ds_cli_get_choice(cli, "maskMode", mask, 2);
    o->pseudo_mode = (ds_pseudo_label_mode)ds_cli_get_choice(cli, "pseudoMode", pseudo, 2);
    o->kl_direction = (ds_kl_direction)ds_cli_get_choice(cli, "klDirection", kl, 2);
    o->tau = (float)ds_cli_get_double(cli, "temperature");
    o->max_uncertain = ds_cli_get_int(cli, "maxUncertain");
}

static void load_options(const ds_cli *cli, ds_load_options *o)
{
    static const ds_cli_choice norm[] = {{"zscore", DS_NORM_ZSCORE}, {"window", DS_NORM_WINDOW},
                                         {"none", DS_NORM_NONE}};
    static const ds_cli_choice axis[] = {{"none", -1}, {"sagittal", 0}, {"coronal", 1},
                                         {"axial", 2}};
    ds_load_options_default(o);
    o->norm = (ds_norm_mode)ds_cli_get_choice(cli, "normalisation", norm, 3);
    o->window_lo = (float)ds_cli_get_double(cli, "windowLow");
    o->window_hi = (float)ds_cli_get_double(cli, "windowHigh");
    ds_cli_get_doubles(cli, "spacing", o->target_spacing, 3);
    o->num_classes = ds_cli_get_int(cli, "numberOfClasses");
    o->ignore_label = ds_cli_get_int(cli, "ignoreLabel");
    o->partial_axis = ds_cli_get_choice(cli, "paintedSlices", axis, 4);
}

static void train_options(const ds_cli *cli, ds_train_options *o)
{
    static const ds_cli_choice pair[] = {{"heterogeneous", DS_PAIR_HETEROGENEOUS},
                                         {"homogeneous", DS_PAIR_HOMOGENEOUS},
                                         {"single", DS_PAIR_SINGLE}};
    ds_train_options_init(o);
    o->pair = (ds_pair_mode)ds_cli_get_choice(cli, "pairMode", pair, 3);
    o->width = ds_cli_get_int(cli, "width");
    o->iterations = ds_cli_get_int(cli, "iterations");
    o->lr = (float)ds_cli_get_double(cli, "learningRate");
    o->momentum = (float)ds_cli_get_double(cli, "momentum");
    o->weight_decay = (float)ds_cli_get_double(cli, "weightDecay");
    double f[DS_LR_MAX_MILESTONES];
    o->milestone_count = ds_cli_get_doubles(cli, "milestones", f, DS_LR_MAX_MILESTONES);
    for (int i = 0; i < o->milestone_count; ++i)
        o->milestones[i] = (int64_t)llround(f[i] * (double)o->iterations);
    o->seed = (uint64_t)ds_cli_get_int(cli, "seed");
    o->dropout = !ds_cli_get_bool(cli, "noDropout");
    o->batch.labelled = ds_cli_get_int(cli, "labelledBatch");
    o->batch.unlabelled = ds_cli_get_int(cli, "unlabelledBatch");
    int patch[3];
    ds_cli_get_ints(cli, "patch", patch, 3);
    for (int a = 0; a < 3; ++a) {
        o->batch.patch[a] = patch[a];
        o->batch.augment.flip[a] = ds_cli_get_bool(cli, "augmentFlips");
    }
    o->batch.augment.intensity_scale = (float)ds_cli_get_double(cli, "augmentIntensity");
    o->batch.augment.intensity_shift = o->batch.augment.intensity_scale;
    loss_options(cli, &o->loss);
    o->resume = !ds_cli_get_bool(cli, "restart");
    o->warm_start_path = ds_cli_has_value(cli, "warmStartModel")
                             ? ds_cli_get_string(cli, "warmStartModel") : NULL;
    o->log_path = ds_cli_has_value(cli, "trainingLog") ? ds_cli_get_string(cli, "trainingLog")
                                                         : NULL;
    o->memory_cap_bytes = (int64_t)ds_cli_get_int(cli, "memoryCap") << 20;
    o->checkpoint_every = ds_cli_get_double(cli, "checkpointMinutes") > 0 ? 0 : 1;
}

/* Trains stretch after stretch until the schedule is done; *model is the final model. */
static ds_status train(ds_ctx *ctx, ds_cli *cli, train_heartbeat *h, ds_train_options *opt,
                       const ds_train_data *data, ds_model **model, ds_train_result *res,
                       int64_t *resumed_from)
{
    session s = {cli, h, 0, 60 * ds_cli_get_double(cli, "checkpointMinutes")};
    opt->progress = on_progress;
    opt->progress_user = &s;
    for (;;) {
        s.stretch_start = now_seconds();
        const int first = *resumed_from < 0;
        ds_status st = ds_train_run(ctx, opt, data, model, res);
        if (first && st == DS_OK)
            *resumed_from = res->resumed_from;
        if (st != DS_OK || !res->cancelled)
            return st;
        ds_model_free(*model); /* its state is in the checkpoint just written */
        *model = NULL;
        opt->resume = 1;
    }
}

static void report(ds_cli *cli, const ds_train_options *opt, const ds_train_result *res,
                   int64_t resumed_from, double seconds)
{
    double a[DS_LOSS_TERM_COUNT], b[DS_LOSS_TERM_COUNT];
    const int nets = opt->pair == DS_PAIR_SINGLE ? 1 : 2;
    for (int t = 0; t < DS_LOSS_TERM_COUNT; ++t) {
        a[t] = res->last.term[0][t];
        b[t] = res->last.term[1][t];
    }
    ds_cli_return_int(cli, "iterationsDone", res->iterations_done);
    ds_cli_return_int(cli, "resumedFrom", resumed_from);
    ds_cli_return_doubles(cli, "lossA", a, DS_LOSS_TERM_COUNT);
    ds_cli_return_doubles(cli, "lossB", b, nets == 2 ? DS_LOSS_TERM_COUNT : 0);
    ds_cli_return_doubles(cli, "totalLoss", res->last.total, nets);
    ds_cli_return_double(cli, "seconds", seconds);
    ds_cli_return_string(cli, "checkpointPath", opt->checkpoint_path);
}

static ds_status run(ds_ctx *ctx, ds_cli *cli, train_heartbeat *h, const char *checkpoint)
{
    const double t0 = now_seconds();
    ds_load_options lo;
    ds_train_options opt;
    load_options(cli, &lo);
    train_options(cli, &opt);
    opt.checkpoint_path = checkpoint;
    train_sources src;
    ds_status st = ds_threads_set(ctx, ds_cli_get_int(cli, "threads"));
    if (st == DS_OK)
        st = train_sources_open(ctx, cli, &src);
    if (st != DS_OK)
        return st;
    if (lo.num_classes == 0)
        st = train_sources_count_classes(ctx, &src, lo.ignore_label, &lo.num_classes);
    ds_train_data *data = NULL;
    if (st == DS_OK)
        st = train_sources_load(ctx, cli, h, &src, &lo, LOAD_SHARE, &data);
    train_sources_class_names(&src, &opt.class_names, &opt.class_name_count); /* src outlives opt */
    ds_model *model = NULL;
    ds_train_result res;
    int64_t resumed_from = -1;
    if (st == DS_OK)
        st = train(ctx, cli, h, &opt, data, &model, &res, &resumed_from);
    if (st == DS_OK) /* atomic: an existing model is replaced only by a whole new one */
        st = ds_model_save(ctx, model, ds_cli_get_string(cli, "outputModel"));
    if (st == DS_OK)
        report(cli, &opt, &res, resumed_from, now_seconds() - t0);
    ds_model_free(model);
    ds_train_data_free(data);
    train_sources_free(&src);
    return st;
}

/* Checks that involve several parameters; 0 when they hold, else the usage error's code. */
static int check_arguments(ds_cli *cli)
{
    const int volume = ds_cli_has_value(cli, "inputVolume");
    const int label = ds_cli_has_value(cli, "inputLabel");
    if (volume != label)
        return ds_cli_usage_error(cli, "--%s and --%s go together (a volume and its labels)",
                                  ds_cli_longflag(cli, "inputVolume"),
                                  ds_cli_longflag(cli, "inputLabel"));
    if (!volume && !ds_cli_has_value(cli, "cohortFolder") && !ds_cli_has_value(cli, "cohortCsv"))
        return ds_cli_usage_error(cli, "no labelled data: give --%s with --%s, or --%s, or --%s",
                                  ds_cli_longflag(cli, "inputVolume"),
                                  ds_cli_longflag(cli, "inputLabel"),
                                  ds_cli_longflag(cli, "cohortFolder"),
                                  ds_cli_longflag(cli, "cohortCsv"));
    if (!ds_cli_has_value(cli, "outputModel"))
        return ds_cli_usage_error(cli, "missing --%s (where to write the model)",
                                  ds_cli_longflag(cli, "outputModel"));
    int patch[3];
    double spacing[3];
    if (ds_cli_get_ints(cli, "patch", patch, 3) != 3)
        return ds_cli_usage_error(cli, "--%s needs three sizes x,y,z",
                                  ds_cli_longflag(cli, "patch"));
    const int ns = ds_cli_get_doubles(cli, "spacing", spacing, 3);
    if (ns != 0 && ns != 3)
        return ds_cli_usage_error(cli, "--%s needs three sizes x,y,z (mm) or none",
                                  ds_cli_longflag(cli, "spacing"));
    if (ds_cli_get_doubles(cli, "milestones", NULL, 0) > DS_LR_MAX_MILESTONES)
        return ds_cli_usage_error(cli, "--%s: at most %d learning-rate drops",
                                  ds_cli_longflag(cli, "milestones"), DS_LR_MAX_MILESTONES);
    if (ds_cli_get_int(cli, "iterations") == 0 && !ds_cli_has_value(cli, "warmStartModel"))
        return ds_cli_usage_error(cli, "--%s 0 needs --%s (it writes the start model unchanged)",
                                  ds_cli_longflag(cli, "iterations"),
                                  ds_cli_longflag(cli, "warmStartModel"));
    if (ds_cli_get_int(cli, "numberOfClasses") == 1)
        return ds_cli_usage_error(cli, "--%s 1 leaves nothing to learn (0 counts, or at least 2)",
                                  ds_cli_longflag(cli, "numberOfClasses"));
    if (!(ds_cli_get_double(cli, "windowHigh") > ds_cli_get_double(cli, "windowLow")))
        return ds_cli_usage_error(cli, "--%s must be above --%s",
                                  ds_cli_longflag(cli, "windowHigh"),
                                  ds_cli_longflag(cli, "windowLow"));
    return 0;
}

int main(int argc, char **argv)
{
    int code;
    ds_cli *cli = ds_cli_begin(&DS_CLI_MODULE, argc, argv, &code);
    if (!cli)
        return code;
    ds_cli_correct_blas_core(argv);
    if ((code = check_arguments(cli)) != 0)
        return code;
    char *checkpoint = NULL;
    const char *given = ds_cli_get_string(cli, "checkpointFile");
    const char *model = ds_cli_get_string(cli, "outputModel");
    if (!(checkpoint = malloc(strlen(given) + strlen(model) + 16)))
        return ds_cli_end(cli, DS_ERR_NOMEM, "out of memory");
    if (given[0])
        strcpy(checkpoint, given);
    else
        sprintf(checkpoint, "%s.checkpoint", model);
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK) {
        free(checkpoint);
        return ds_cli_end(cli, DS_ERR_NOMEM, "out of memory");
    }
    ds_ctx_set_log(ctx, ds_cli_log, cli, DS_LOG_WARN);
    ds_cli_start(cli, "Training");
    train_heartbeat *h = train_heartbeat_start(cli);
    ds_status st = run(ctx, cli, h, checkpoint);
    train_heartbeat_stop(h);
    code = ds_cli_end(cli, st, ds_ctx_message(ctx));
    ds_ctx_free(ctx);
    free(checkpoint);
    return code;
}
