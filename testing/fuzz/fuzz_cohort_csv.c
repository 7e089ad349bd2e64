/* fuzz_cohort_csv.c - the cohort CSV reader (ds_cohort_open_csv) on any bytes. Beside the CSV are
 * two (empty) files, a.nii.gz and b.nii.gz, that the seeds name, so accepted lines reach the
 * case list and not only the "does not exist" refusal. */
#include "ds_cohort.h"
#include "fuzz_util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *csv;
    if (!csv) {
        fuzz_write(fuzz_path("a.nii.gz"), (const uint8_t *)"", 0);
        fuzz_write(fuzz_path("b.nii.gz"), (const uint8_t *)"", 0);
        csv = fuzz_path("cohort.csv");
    }
    fuzz_write(csv, data, size);
    ds_cohort *c = NULL;
    if (ds_cohort_open_csv(fuzz_ctx(), csv, &c) == DS_OK) {
        /* what the callers rely on: at least one case, each with an id and an image */
        if (!c || c->count < 1)
            abort();
        for (int i = 0; i < c->count; ++i)
            if (!c->cases[i].id || !c->cases[i].image_path)
                abort();
    }
    ds_cohort_free(c);
    return 0;
}
