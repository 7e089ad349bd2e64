/* fuzz_dataset_json.c - the Decathlon / nnU-Net reader (ds_cohort_open_decathlon) with any bytes
 * as dataset.json. The folder also holds imagesTr/a_0000.nii.gz and labelsTr/a.nii.gz (empty),
 * which the seeds list, so accepted documents reach the case list. */
#include "ds_cohort.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *json;
    static char dir[512];
    if (!json) {
        fuzz_write(fuzz_path("imagesTr/a_0000.nii.gz"), (const uint8_t *)"", 0);
        fuzz_write(fuzz_path("labelsTr/a.nii.gz"), (const uint8_t *)"", 0);
        json = fuzz_path("dataset.json");
        size_t n = strlen(json) - strlen("/dataset.json");
        memcpy(dir, json, n);
        dir[n] = '\0';
    }
    fuzz_write(json, data, size);
    ds_cohort *c = NULL;
    if (ds_cohort_open_decathlon(fuzz_ctx(), dir, &c) == DS_OK) {
        if (!c || c->count < 1)
            abort();
        for (int i = 0; i < c->count; ++i)
            if (!c->cases[i].id || !c->cases[i].image_path)
                abort();
    }
    ds_cohort_free(c);
    return 0;
}
