/* test_cli_loop - one round of the annotator-in-the-loop end to end through the modules, on
 * phantoms (cli_data.h: two cases with a reference label, one unlabelled), running exactly the
 * command lines of loop_round.txt (which the Python command builder of plugin/DualSegLoop must
 * reproduce: test_loop_commands.py):
 *   start (the centre-of-mass slice revealed) -> train -> segment with the painted labels ->
 *   montage of the suggestions -> reveal the first suggestion -> warm-started training.
 * Checks, each against an expectation computed here from the files (not by the code under test):
 *   - the start label is the reference on the slice through the foreground's centre of mass
 *     (mean z, rounded) and the ignore label everywhere else, voxel for voxel;
 *   - no suggested slice holds an annotated voxel of the painted labels;
 *   - revealing a slice changes exactly that slice's ignore voxels, to the reference's values;
 *   - a warm start before its first step (--iterations 0) segments bit for bit like the model
 *     it starts from (label and entropy maps compared as raw bytes of the voxel data);
 *   - the warm-started round trains its 4 steps and its model differs from the start model;
 *   - the Slicer module's round (one volume painted on every 4th axial slice, unpainted voxels 0):
 *     no suggested slice holds a painted voxel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_check.h"
#include "cli_data.h"
#include "cli_run.h"

enum { IGNORE = 255, CASES = 2, MAX_ARGS = 64 };

static char g_work[256];
static ds_ctx *g_ctx;
static char g_lines[16][2048], g_names[16][32];
static int g_line_count;

static void read_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    DS_CHECK_MSG(f != NULL, "cannot open %s", path);
    while (f && fgets(line, sizeof line, f) && g_line_count < 16) {
        char *colon = strstr(line, ": ");
        if (line[0] == '#' || !colon)
            continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(g_names[g_line_count], sizeof g_names[0], "%.*s", (int)(colon - line), line);
        snprintf(g_lines[g_line_count++], sizeof g_lines[0], "%s", colon + 2);
    }
    if (f)
        fclose(f);
}

/* The line `name` with its placeholders filled in, split at spaces into argv (static storage). */
static char **command(const char *name, const char *id, const char *slices)
{
    static char text[4096];
    static char *argv[MAX_ARGS];
    const char *keys[6] = {"{modules}", "{tools}", "{work}", "{case}", "{slices}", "{slice}"};
    const char *values[6] = {DS_MODULES_DIR, DS_TOOLS_DIR, g_work, id, slices, slices};
    const char *src = NULL;
    for (int i = 0; i < g_line_count; ++i)
        if (strcmp(g_names[i], name) == 0)
            src = g_lines[i];
    DS_CHECK_MSG(src != NULL, "no line '%s' in loop_round.txt", name);
    size_t n = 0;
    while (src && *src && n + 512 < sizeof text) {
        int k = 0;
        while (k < 6 && strncmp(src, keys[k], strlen(keys[k])) != 0)
            ++k;
        if (k < 6) {
            n += (size_t)snprintf(text + n, sizeof text - n, "%s", values[k]);
            src += strlen(keys[k]);
        } else {
            text[n++] = *src++;
        }
    }
    text[n] = '\0';
    int argc = 0;
    for (char *t = strtok(text, " "); t && argc < MAX_ARGS - 1; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    return argv;
}

static void run_ok(const char *name, const char *id, const char *slices, cli_result *r)
{
    char **argv = command(name, id, slices);
    cli_run(argv, r);
    DS_CHECK_MSG(r->code == 0, "%s (%s): exit %d, stderr '%s'", name, id, r->code, r->err);
    printf("%s %s: %.1f s\n", name, id, r->seconds);
}

static char *path_of(const char *id, const char *what)
{
    static char buf[16][512];
    static int next;
    char *p = buf[next++ % 16];
    snprintf(p, 512, "%s/%s_%s", g_work, id, what);
    return p;
}

static ds_volume *read_label(const char *path)
{
    ds_volume *v = NULL;
    DS_CHECK_OK(g_ctx, ds_io_read_label(g_ctx, path, &v));
    return v;
}

/* start: the reference on the centre-of-mass slice, the ignore label elsewhere. */
static void check_start(const char *id)
{
    ds_volume *ref = read_label(path_of(id, "ref.nrrd")), *got = read_label(path_of(id, "r0.nrrd"));
    if (!ref || !got)
        return;
    const int64_t plane = ref->geom.size[0] * ref->geom.size[1], n = ds_volume_voxels(ref);
    double sum = 0, count = 0;
    for (int64_t i = 0; i < n; ++i)
        if (ref->labels[i] != 0) {
            sum += (double)(i / plane);
            ++count;
        }
    const int64_t centre = (int64_t)floor(sum / count + 0.5);
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; ++i)
        wrong += got->labels[i] != (i / plane == centre ? ref->labels[i] : IGNORE);
    DS_CHECK_MSG(count > 0 && wrong == 0, "%s: start label: %lld voxels wrong (centre %lld)", id,
                 (long long)wrong, (long long)centre);
    ds_volume_free(ref);
    ds_volume_free(got);
}

/* Every suggested slice of the painted labels holds only the ignore label. */
static void check_not_annotated(const char *id, const double *slices, int found)
{
    ds_volume *p = read_label(path_of(id, "r0.nrrd"));
    if (!p)
        return;
    const int64_t plane = p->geom.size[0] * p->geom.size[1];
    for (int s = 0; s < found; ++s) {
        int64_t painted = 0;
        for (int64_t i = 0; i < plane; ++i)
            painted += p->labels[(int64_t)slices[s] * plane + i] != IGNORE;
        DS_CHECK_MSG(painted == 0, "%s: suggested slice %g holds %lld annotated voxels", id,
                     slices[s], (long long)painted);
    }
    ds_volume_free(p);
}

/* reveal: exactly slice z's ignore voxels changed, to the reference; the rest byte-equal. */
static void check_reveal(const char *id, int64_t z)
{
    ds_volume *ref = read_label(path_of(id, "ref.nrrd"));
    ds_volume *before = read_label(path_of(id, "r0.nrrd"));
    ds_volume *after = read_label(path_of(id, "r1.nrrd"));
    if (ref && before && after) {
        const int64_t plane = ref->geom.size[0] * ref->geom.size[1], n = ds_volume_voxels(ref);
        int64_t wrong = 0, changed = 0;
        for (int64_t i = 0; i < n; ++i) {
            const int reveal = i / plane == z && before->labels[i] == IGNORE;
            wrong += after->labels[i] != (reveal ? ref->labels[i] : before->labels[i]);
            changed += after->labels[i] != before->labels[i];
        }
        DS_CHECK_MSG(wrong == 0, "%s: reveal of slice %lld: %lld voxels wrong", id, (long long)z,
                     (long long)wrong);
        DS_CHECK(changed > 0); /* the slice held unknown voxels whose reference is not 255 */
    }
    ds_volume_free(ref);
    ds_volume_free(before);
    ds_volume_free(after);
}

static void write_csv(const char *name, const char *label)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_work, name);
    FILE *f = fopen(path, "w");
    DS_CHECK(f != NULL);
    if (!f)
        return;
    fprintf(f, "image,label\n");
    for (int c = 0; c < CASES; ++c)
        fprintf(f, "c%d_img.nrrd,c%d_%s\n", c, c, label);
    fprintf(f, "u0_img.nrrd\n");
    fclose(f);
}

static void one_round(void)
{
    const char *ids[CASES] = {"c0", "c1"};
    cli_result r;
    for (int c = 0; c < CASES; ++c) {
        run_ok("start", ids[c], "", &r);
        cli_result_free(&r);
        check_start(ids[c]);
    }
    write_csv("round0.csv", "r0.nrrd");
    run_ok("train", "", "", &r);
    cli_result_free(&r);
    for (int c = 0; c < CASES; ++c) {
        run_ok("segment", ids[c], "", &r);
        cli_result_free(&r);
        double s[8];
        char list[64] = "", one[16];
        const int found = cli_read_return(path_of(ids[c], "seg0.txt"), "suggestedSlices", s, 8);
        DS_CHECK_MSG(found >= 1, "%s: %d slices suggested", ids[c], found);
        check_not_annotated(ids[c], s, found);
        for (int i = 0; i < found; ++i)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "",
                     (int)s[i]);
        run_ok("montage", ids[c], found ? list : "0", &r);
        cli_result_free(&r);
        DS_CHECK(cli_exists(path_of(ids[c], "montage.png")));
        snprintf(one, sizeof one, "%d", found ? (int)s[0] : 0);
        run_ok("reveal", ids[c], one, &r);
        cli_result_free(&r);
        check_reveal(ids[c], found ? (int64_t)s[0] : 0);
    }
    write_csv("round1.csv", "r1.nrrd");
    run_ok("check", "", "", &r);
    cli_result_free(&r);
    for (int c = 0; c < CASES; ++c) {
        run_ok("segment_check", ids[c], "", &r);
        cli_result_free(&r);
        cli_check_same_file_data(g_ctx, path_of(ids[c], "label0.nrrd"),
                                 path_of(ids[c], "label_check.nrrd"), CLI_LABEL);
        cli_check_same_file_data(g_ctx, path_of(ids[c], "entropy0.nrrd"),
                                 path_of(ids[c], "entropy_check.nrrd"), CLI_IMAGE);
    }
    run_ok("train1", "", "", &r);
    cli_result_free(&r);
    double v[2];
    char train1[512], round0[512];
    snprintf(train1, sizeof train1, "%s/train1.txt", g_work);
    DS_CHECK(cli_read_return(train1, "iterationsDone", v, 2) == 1 && v[0] == 4);
    snprintf(round0, sizeof round0, "%s/round0.dsm", g_work);
    snprintf(train1, sizeof train1, "%s/round1.dsm", g_work);
    size_t n0 = 0, n1 = 0;
    unsigned char *m0 = cli_slurp(round0, &n0), *m1 = cli_slurp(train1, &n1);
    DS_CHECK(n0 > 0 && n1 > 0 && (n0 != n1 || memcmp(m0, m1, n0) != 0));
    free(m0);
    free(m1);
}

/* The Slicer module's round (gui_*): a volume with labels painted on every 4th axial slice,
 * unpainted voxels 0 as Slicer exports them; no suggested slice holds a painted (non-zero)
 * voxel. */
static void gui_round(void)
{
    char volume[512], painted[512], ret[512];
    snprintf(volume, sizeof volume, "%s/volume.nrrd", g_work);
    snprintf(painted, sizeof painted, "%s/painted.nrrd", g_work);
    snprintf(ret, sizeof ret, "%s/segment.txt", g_work);
    cli_write_phantom(g_ctx, 3, volume, painted, 4);
    cli_result r;
    run_ok("gui_train", "", "", &r);
    cli_result_free(&r);
    run_ok("gui_segment", "", "", &r);
    cli_result_free(&r);
    double s[8];
    const int found = cli_read_return(ret, "suggestedSlices", s, 8);
    ds_volume *p = read_label(painted);
    DS_CHECK_MSG(found >= 1, "gui round: %d slices suggested", found);
    for (int i = 0; p && i < found; ++i) {
        const int64_t plane = p->geom.size[0] * p->geom.size[1];
        int64_t nonzero = 0;
        for (int64_t v = 0; v < plane; ++v)
            nonzero += p->labels[(int64_t)s[i] * plane + v] != 0;
        DS_CHECK_MSG(nonzero == 0, "gui round: suggested slice %g is painted", s[i]);
    }
    ds_volume_free(p);
}

int main(void)
{
    snprintf(g_work, sizeof g_work, "/tmp/ds_cli_loop_XXXXXX");
    if (!mkdtemp(g_work) || ds_ctx_create(&g_ctx) != DS_OK)
        return 1;
    read_lines(DS_SOURCE_DIR "/testing/cli/loop_round.txt");
    for (int c = 0; c < CASES; ++c)
        cli_write_phantom(g_ctx, (uint32_t)c, path_of(c ? "c1" : "c0", "img.nrrd"),
                          path_of(c ? "c1" : "c0", "ref.nrrd"), 0);
    cli_write_phantom(g_ctx, 5, path_of("u0", "img.nrrd"), NULL, 0);
    one_round();
    gui_round();
    ds_ctx_free(g_ctx);
    DS_CHECK(cli_remove_tree(g_work) == 0);
    return ds_test_finish("test_cli_loop");
}
