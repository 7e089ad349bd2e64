/* test_activation.c - ReLU, add / accumulate and channel softmax, forward and backward.
 *
 * References: double-precision forwards written here from the definitions (max(x, 0); a + b;
 * exp(x_c) / sum_k exp(x_k)), and central finite differences of L = sum(w * y) through them for
 * the input gradients. Every backward is checked to ADD into pre-filled gradients. Parity with
 * PyTorch is in test_layer_parity.c.
 */
#include "ds_activation.h"
#include "ds_threads.h"
#include "ds_test.h"
#include "layer_test_util.h"

#include <stdlib.h>
#include <string.h>

enum { N = 2, C = 4, D = 3, H = 5, W = 3, S = D * H * W, NUMEL = N * C * S };

typedef struct ref_state {
    int kind; /* 0 relu, 1 softmax, 2 add */
    double x[NUMEL], b[NUMEL], w[NUMEL];
} ref_state;

static void ref_forward(const ref_state *s, double *y)
{
    if (s->kind == 0) {
        for (int i = 0; i < NUMEL; ++i)
            y[i] = s->x[i] > 0.0 ? s->x[i] : 0.0;
    } else if (s->kind == 2) {
        for (int i = 0; i < NUMEL; ++i)
            y[i] = s->x[i] + s->b[i];
    } else {
        for (int n = 0; n < N; ++n)
            for (int v = 0; v < S; ++v) {
                double sum = 0.0;
                for (int c = 0; c < C; ++c)
                    sum += exp(s->x[(n * C + c) * S + v]);
                for (int c = 0; c < C; ++c)
                    y[(n * C + c) * S + v] = exp(s->x[(n * C + c) * S + v]) / sum;
            }
    }
}

static double ref_loss(const void *state)
{
    const ref_state *s = state;
    static double y[NUMEL];
    ref_forward(s, y);
    double l = 0.0;
    for (int i = 0; i < NUMEL; ++i)
        l += s->w[i] * y[i];
    return l;
}

typedef struct bufs {
    ds_tensor *x, *b, *y, *dy, *dx, *dx0, *db, *db0;
} bufs;

static void make(ds_ctx *ctx, bufs *t, ds_rng *rng, ref_state *s, int kind)
{
    ds_tensor **all[] = {&t->x, &t->b, &t->y, &t->dy, &t->dx, &t->db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
        DS_CHECK_OK(ctx, ds_tensor_create(ctx, all[i], N, C, D, H, W));
    lt_fill_normal(rng, t->x->data, NUMEL, 0.0f, kind == 1 ? 3.0f : 1.0f);
    if (kind == 0) /* keep ReLU inputs away from the kink, where the derivative jumps */
        for (int i = 0; i < NUMEL; ++i)
            t->x->data[i] += t->x->data[i] >= 0.0f ? 1e-2f : -1e-2f;
    lt_fill_normal(rng, t->b->data, NUMEL, 0.0f, 1.0f);
    lt_fill_normal(rng, t->dy->data, NUMEL, 0.0f, 1.0f);
    lt_fill_uniform(rng, t->dx->data, NUMEL, -1.0f, 1.0f);
    lt_fill_uniform(rng, t->db->data, NUMEL, -1.0f, 1.0f);
    DS_CHECK_OK(ctx, ds_tensor_clone(ctx, &t->dx0, t->dx));
    DS_CHECK_OK(ctx, ds_tensor_clone(ctx, &t->db0, t->db));
    s->kind = kind;
    lt_to_double(t->x->data, s->x, NUMEL);
    lt_to_double(t->b->data, s->b, NUMEL);
    lt_to_double(t->dy->data, s->w, NUMEL);
}

static void release(bufs *t)
{
    ds_tensor_free(t->x);
    ds_tensor_free(t->b);
    ds_tensor_free(t->y);
    ds_tensor_free(t->dy);
    ds_tensor_free(t->dx);
    ds_tensor_free(t->dx0);
    ds_tensor_free(t->db);
    ds_tensor_free(t->db0);
}

/* Forward against the double reference, then the analytic gradient (already added into dx)
 * against finite differences. */
static void compare(const char *what, ref_state *s, const float *y, const float *dx,
                    const float *dx0, double *wrt)
{
    static double yref[NUMEL], g[NUMEL];
    ref_forward(s, yref);
    const double ey = lt_rel_error(y, yref, NUMEL);
    for (int i = 0; i < NUMEL; ++i)
        g[i] = lt_central_diff(ref_loss, s, &wrt[i], 1e-5);
    const double ex = lt_rel_error_added(dx, dx0, g, NUMEL);
    printf("%s: forward rel error %.2g, gradient rel error vs finite differences %.2g\n", what, ey,
           ex);
    DS_CHECK_MSG(ey < 1e-6, "%s forward rel error %.3g", what, ey);
    DS_CHECK_MSG(ex < 1e-5, "%s gradient rel error %.3g", what, ex);
}

static void check_relu(ds_ctx *ctx, ds_rng *rng)
{
    static ref_state s;
    bufs t;
    make(ctx, &t, rng, &s, 0);
    DS_CHECK_OK(ctx, ds_relu_forward(ctx, t.x, t.y));
    DS_CHECK_OK(ctx, ds_relu_backward(ctx, t.y, t.dy, t.dx));
    compare("relu", &s, t.y->data, t.dx->data, t.dx0->data, s.x);
    /* in place */
    DS_CHECK_OK(ctx, ds_relu_forward(ctx, t.x, t.x));
    DS_CHECK(memcmp(t.x->data, t.y->data, NUMEL * sizeof(float)) == 0);
    release(&t);
}

static void check_softmax(ds_ctx *ctx, ds_rng *rng)
{
    static ref_state s;
    bufs t;
    make(ctx, &t, rng, &s, 1);
    DS_CHECK_OK(ctx, ds_softmax_forward(ctx, t.x, t.y));
    DS_CHECK_OK(ctx, ds_softmax_backward(ctx, t.y, t.dy, t.dx));
    compare("softmax", &s, t.y->data, t.dx->data, t.dx0->data, s.x);
    /* in place */
    DS_CHECK_OK(ctx, ds_softmax_forward(ctx, t.x, t.x));
    DS_CHECK(memcmp(t.x->data, t.y->data, NUMEL * sizeof(float)) == 0);
    /* stable: huge logits give a finite, exact one-hot-like answer; shifting all logits by a
     * constant changes nothing */
    for (int i = 0; i < NUMEL; ++i)
        t.x->data[i] = (i / S) % C == 1 ? 1000.0f : -1000.0f;
    DS_CHECK_OK(ctx, ds_softmax_forward(ctx, t.x, t.y));
    DS_CHECK_OK(ctx, ds_tensor_check_finite(ctx, t.y, "softmax of large logits"));
    DS_CHECK(t.y->data[S] == 1.0f && t.y->data[0] == 0.0f);
    for (int i = 0; i < NUMEL; ++i)
        t.x->data[i] = (float)(i % 7) * 0.25f;
    DS_CHECK_OK(ctx, ds_softmax_forward(ctx, t.x, t.y));
    for (int i = 0; i < NUMEL; ++i)
        t.x->data[i] += 500.0f; /* exact in float: multiples of 0.25 below 1024 */
    DS_CHECK_OK(ctx, ds_softmax_forward(ctx, t.x, t.dx));
    DS_CHECK(memcmp(t.dx->data, t.y->data, NUMEL * sizeof(float)) == 0);
    release(&t);
}

static void check_add(ds_ctx *ctx, ds_rng *rng)
{
    static ref_state s;
    bufs t;
    make(ctx, &t, rng, &s, 2);
    DS_CHECK_OK(ctx, ds_add_forward(ctx, t.x, t.b, t.y));
    /* backward of add: dy into both inputs */
    DS_CHECK_OK(ctx, ds_tensor_accumulate(ctx, t.dx, t.dy));
    DS_CHECK_OK(ctx, ds_tensor_accumulate(ctx, t.db, t.dy));
    compare("add (first input)", &s, t.y->data, t.dx->data, t.dx0->data, s.x);
    compare("add (second input)", &s, t.y->data, t.db->data, t.db0->data, s.b);
    /* y aliasing either input */
    DS_CHECK_OK(ctx, ds_tensor_copy(ctx, t.dx, t.x));
    DS_CHECK_OK(ctx, ds_add_forward(ctx, t.dx, t.b, t.dx));
    DS_CHECK(memcmp(t.dx->data, t.y->data, NUMEL * sizeof(float)) == 0);
    DS_CHECK_OK(ctx, ds_tensor_copy(ctx, t.dx, t.b));
    DS_CHECK_OK(ctx, ds_add_forward(ctx, t.x, t.dx, t.dx));
    DS_CHECK(memcmp(t.dx->data, t.y->data, NUMEL * sizeof(float)) == 0);
    release(&t);
}

/* Large tensors (run in parallel): identical results for 1 and 2 threads. */
static void check_threads(ds_ctx *ctx, ds_rng *rng)
{
    enum { BN_ = 2, BC = 3, BD = 11, BH = 19, BW = 23, BNUM = BN_ * BC * BD * BH * BW };
    ds_tensor *x = NULL, *dy = NULL, *y[2] = {NULL, NULL}, *dx[2] = {NULL, NULL};
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &x, BN_, BC, BD, BH, BW));
    DS_CHECK_OK(ctx, ds_tensor_create(ctx, &dy, BN_, BC, BD, BH, BW));
    lt_fill_normal(rng, x->data, BNUM, 0.0f, 2.0f);
    lt_fill_normal(rng, dy->data, BNUM, 0.0f, 1.0f);
    for (int t = 0; t < 2; ++t) {
        DS_CHECK_OK(ctx, ds_threads_set(ctx, t + 1));
        DS_CHECK_OK(ctx, ds_tensor_create(ctx, &y[t], BN_, BC, BD, BH, BW));
        DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &dx[t], BN_, BC, BD, BH, BW));
        DS_CHECK_OK(ctx, ds_softmax_forward(ctx, x, y[t]));
        DS_CHECK_OK(ctx, ds_softmax_backward(ctx, y[t], dy, dx[t]));
        DS_CHECK_OK(ctx, ds_relu_backward(ctx, x, dy, dx[t]));
    }
    DS_CHECK(memcmp(y[0]->data, y[1]->data, BNUM * sizeof(float)) == 0);
    DS_CHECK(memcmp(dx[0]->data, dx[1]->data, BNUM * sizeof(float)) == 0);
    /* softmax sums to one at every voxel */
    double worst = 0.0;
    for (int n = 0; n < BN_; ++n)
        for (int v = 0; v < BD * BH * BW; ++v) {
            double sum = 0.0;
            for (int c = 0; c < BC; ++c)
                sum += y[0]->data[(n * BC + c) * BD * BH * BW + v];
            worst = fmax(worst, fabs(sum - 1.0));
        }
    DS_CHECK_MSG(worst < 1e-6, "softmax sum off by %.3g", worst);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    for (int t = 0; t < 2; ++t) {
        ds_tensor_free(y[t]);
        ds_tensor_free(dx[t]);
    }
    ds_tensor_free(x);
    ds_tensor_free(dy);
}

static void check_bad_input(ds_ctx *ctx)
{
    ds_tensor *a = NULL, *b = NULL, *c = NULL;
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &a, 1, 2, 3, 4, 5));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &b, 1, 2, 3, 4, 5));
    DS_CHECK_OK(ctx, ds_tensor_zeros(ctx, &c, 1, 2, 3, 5, 4));
    DS_CHECK_FAILS(ctx, ds_relu_forward(ctx, a, c), DS_ERR_SHAPE);
    DS_CHECK(strstr(ds_ctx_message(ctx), "1x2x3x4x5") && strstr(ds_ctx_message(ctx), "1x2x3x5x4"));
    DS_CHECK_FAILS(ctx, ds_relu_forward(ctx, NULL, a), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_relu_forward(ctx, a, NULL), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_relu_backward(ctx, a, b, c), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_relu_backward(ctx, a, c, b), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_relu_backward(ctx, a, b, NULL), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_add_forward(ctx, a, c, b), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_add_forward(ctx, a, b, c), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_add_forward(ctx, a, NULL, b), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_tensor_accumulate(ctx, a, c), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_tensor_accumulate(ctx, NULL, a), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_softmax_forward(ctx, a, c), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_softmax_forward(ctx, NULL, c), DS_ERR_ARG);
    DS_CHECK_FAILS(ctx, ds_softmax_backward(ctx, a, b, c), DS_ERR_SHAPE);
    DS_CHECK_FAILS(ctx, ds_softmax_backward(ctx, a, NULL, b), DS_ERR_ARG);
    ds_tensor_free(a);
    ds_tensor_free(b);
    ds_tensor_free(c);
}

int main(void)
{
    ds_ctx *ctx = NULL;
    if (ds_ctx_create(&ctx) != DS_OK)
        return 1;
    ds_rng rng;
    ds_rng_init(&rng, 21, DS_RNG_TEST);
    check_relu(ctx, &rng);
    check_softmax(ctx, &rng);
    check_add(ctx, &rng);
    check_threads(ctx, &rng);
    check_bad_input(ctx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_activation");
}
