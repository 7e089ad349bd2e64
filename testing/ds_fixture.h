/* ds_fixture.h - reads the reference fixture files written by the Python scripts under testing/.
 *
 * File format (little-endian), written by testing/dsfixture.py:
 *   "DSFX" magic (4 bytes), version u32 (= 1), count u32, then count records:
 *   name_len u32, name (name_len bytes, no NUL), dtype u32 (0 = float32, 1 = float64, 2 = int64),
 *   ndim u32, dims u64[ndim], data (prod(dims) elements of dtype).
 * Every array is returned converted to double, in C order.
 */
#ifndef DS_FIXTURE_H
#define DS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#define DS_FIXTURE_MAX_DIMS 8

typedef struct ds_fixture_array {
    char *name;
    int ndim;
    uint64_t dims[DS_FIXTURE_MAX_DIMS];
    size_t numel;
    double *data;
} ds_fixture_array;

typedef struct ds_fixture {
    int count;
    ds_fixture_array *arrays;
} ds_fixture;

/* Loads path; returns NULL (after printing why to stderr) on any error. */
ds_fixture *ds_fixture_load(const char *path);
void ds_fixture_free(ds_fixture *fx);
/* The array called name, or NULL (after printing to stderr) when absent. */
const ds_fixture_array *ds_fixture_get(const ds_fixture *fx, const char *name);
/* Copies an array into floats (the caller's buffer of at least numel elements). */
void ds_fixture_to_float(const ds_fixture_array *a, float *out);
/* Largest |got - want| / max(|want|_inf, tiny) over n elements: the relative error of a whole array. */
double ds_fixture_rel_error(const float *got, const ds_fixture_array *want);

#endif
