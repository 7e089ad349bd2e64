/* test_infer_parity.c - ds_infer_model against PyTorch's sliding window of the same weights
 * (fixture: make_infer_fixture.py with torch_sliding.py, written from nnU-Net's description:
 * its window starts, its scipy-made Gaussian, flips, zero padding). The pair of pair_w1.dsm
 * (ResNet34-V-Net + V-Net, width 1, 3 classes, random weights) segments a 37 x 34 x 12 raw
 * image with the model's patch 32 x 32 x 16, default stride, Gaussian weighting and flips:
 * four windows, z padded. Probabilities, entropy and disagreement must match to 1e-5 (float32
 * networks against PyTorch float32 with float64 accumulation), labels wherever the two leading
 * probabilities are more than 1e-3 apart.
 */
#include "ds_fixture.h"
#include "ds_infer.h"
#include "ds_test.h"
#include "ds_threads.h"

#include <stdlib.h>

static double max_error(const ds_volume *v, const double *want, int64_t n)
{
    double e = 0.0;
    for (int64_t i = 0; i < n; ++i)
        e = fmax(e, fabs(v->values[i] - want[i]));
    return e;
}

static int label_mismatches(const ds_infer_result *r, const double *prob, int64_t n)
{
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        int best = 0;
        double p1 = -1.0, p2 = -1.0;
        for (int k = 0; k < 3; ++k) {
            const double p = prob[k * n + i];
            if (p > p1) {
                p2 = p1;
                p1 = p;
                best = k;
            } else if (p > p2) {
                p2 = p;
            }
        }
        bad += p1 - p2 > 1e-3 && r->label->labels[i] != best;
    }
    return bad;
}

int main(void)
{
    ds_ctx *ctx = NULL;
    DS_CHECK(ds_ctx_create(&ctx) == DS_OK);
    DS_CHECK_OK(ctx, ds_threads_set(ctx, 0));
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/infer/infer_parity.bin");
    ds_model *model = NULL;
    DS_CHECK_OK(ctx, ds_model_load(ctx, &model, DS_TESTING_DIR "/infer/pair_w1.dsm"));
    const ds_fixture_array *image = fx ? ds_fixture_get(fx, "image") : NULL;
    const ds_fixture_array *prob = fx ? ds_fixture_get(fx, "prob") : NULL;
    const ds_fixture_array *entropy = fx ? ds_fixture_get(fx, "entropy") : NULL;
    const ds_fixture_array *dis = fx ? ds_fixture_get(fx, "disagreement") : NULL;
    DS_CHECK(model && image && prob && entropy && dis);
    if (model && image && prob && entropy && dis) {
        ds_geometry g;
        ds_geometry_identity(&g, 37, 34, 12);
        const int64_t n = 37 * 34 * 12;
        DS_CHECK((int64_t)image->numel == n && (int64_t)prob->numel == 3 * n);
        ds_volume *v = NULL;
        DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, DS_VOLUME_SCALAR));
        ds_fixture_to_float(image, v->values);
        ds_infer_options o;
        ds_infer_options_init(&o);
        o.tta = DS_INFER_TTA_FLIPS;
        o.probabilities = 1;
        ds_infer_result r;
        DS_CHECK_OK(ctx, ds_infer_model(ctx, model, v, &o, &r));
        DS_CHECK(r.windows == 4 && r.passes == 8 && r.nets_used == 2 && r.classes == 3);
        if (r.label && r.probability[2] && r.disagreement) {
            double e = 0.0;
            for (int k = 0; k < 3; ++k)
                e = fmax(e, max_error(r.probability[k], prob->data + k * n, n));
            const double ee = max_error(r.entropy, entropy->data, n);
            const double ed = max_error(r.disagreement, dis->data, n);
            printf("max |error|: probabilities %.3g, entropy %.3g, disagreement %.3g\n", e, ee,
                   ed);
            DS_CHECK_MSG(e < 1e-5 && ee < 1e-5 && ed < 1e-5, "errors %.3g %.3g %.3g", e, ee, ed);
            const int bad = label_mismatches(&r, prob->data, n);
            DS_CHECK_MSG(bad == 0, "%d labels differ from PyTorch's argmax", bad);
        }
        ds_infer_result_free(&r);
        ds_volume_free(v);
    }
    ds_model_free(model);
    ds_fixture_free(fx);
    ds_ctx_free(ctx);
    return ds_test_finish("test_infer_parity");
}
