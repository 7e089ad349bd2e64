/* test_fixture.c - the fixture reader decodes what testing/dsfixture.py writes.
 * fixture_selftest.bin comes from make_fixture_selftest.py; the expected values are those written
 * in that script. */
#include "ds_fixture.h"
#include "ds_test.h"

int main(void)
{
    ds_fixture *fx = ds_fixture_load(DS_TESTING_DIR "/util/fixture_selftest.bin");
    DS_CHECK(fx != NULL);
    if (!fx)
        return ds_test_finish("test_fixture");
    DS_CHECK(fx->count == 4);
    const ds_fixture_array *a = ds_fixture_get(fx, "f32");
    DS_CHECK(a && a->ndim == 2 && a->dims[0] == 2 && a->dims[1] == 3 && a->numel == 6);
    if (a) {
        DS_CHECK(a->data[0] == 1.5 && a->data[1] == -2.0 && a->data[2] == 0.25);
        DS_CHECK(a->data[3] == 3.0 && a->data[4] == (double)1e-7f && a->data[5] == -65504.0);
        const float got[6] = {1.5f, -2.0f, 0.25f, 3.0f, 1e-7f, -65504.0f + 6.5504f};
        DS_CHECK_CLOSE(ds_fixture_rel_error(got, a), 1e-4, 1e-3, 0.0); /* float rounding at 65504 */
    }
    const ds_fixture_array *b = ds_fixture_get(fx, "f64");
    DS_CHECK(b && b->numel == 1 && b->data[0] == 3.141592653589793);
    const ds_fixture_array *c = ds_fixture_get(fx, "i64");
    DS_CHECK(c && c->numel == 2 && c->data[0] == -3.0 && c->data[1] == 1099511627776.0);
    const ds_fixture_array *s = ds_fixture_get(fx, "scalar");
    DS_CHECK(s && s->ndim == 0 && s->numel == 1 && s->data[0] == 0.5);
    DS_CHECK(ds_fixture_get(fx, "absent") == NULL);
    ds_fixture_free(fx);

    DS_CHECK(ds_fixture_load(DS_TESTING_DIR "/util/no_such_file.bin") == NULL);
    DS_CHECK(ds_fixture_load(DS_TESTING_DIR "/util/test_fixture.c") == NULL); /* wrong magic */
    return ds_test_finish("test_fixture");
}
