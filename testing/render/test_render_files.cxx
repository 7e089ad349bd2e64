// test_render_files.cxx - the files for other viewers, read back by independent readers: the
// .vti through VTK's own vtkXMLImageDataReader (arrays, values, origin, spacing, direction), the
// Slicer colour table by a plain parser of Slicer's documented format ("# Color table file"
// header, lines "index name R G B A"). C++ only because VTK's reader is C++.
#include "ds_render.h"
#include "ds_test.h"

#include <vtkDataArray.h>
#include <vtkImageData.h>
#include <vtkMatrix3x3.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkXMLImageDataReader.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

static ds_volume *make(ds_ctx *ctx, ds_volume_kind kind)
{
    ds_geometry g;
    ds_geometry_identity(&g, 5, 4, 3);
    const double sp[3] = {0.8, 0.9, 2.5}, org[3] = {-10.0, 20.5, 3.25};
    // a rotation about z by 30 degrees, row-major, column j = axis j
    const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
    const double dir[9] = {c, -s, 0, s, c, 0, 0, 0, 1};
    std::memcpy(g.spacing, sp, sizeof sp);
    std::memcpy(g.origin, org, sizeof org);
    std::memcpy(g.direction, dir, sizeof dir);
    ds_volume *v = nullptr;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &v, &g, kind));
    for (int64_t i = 0; i < ds_volume_voxels(v); ++i) {
        if (kind == DS_VOLUME_LABEL)
            v->labels[i] = static_cast<uint16_t>(i % 3);
        else
            v->values[i] = 0.5f * static_cast<float>(i) - 3.0f;
    }
    return v;
}

static void test_vti(ds_ctx *ctx, const char *dir)
{
    ds_volume *img = make(ctx, DS_VOLUME_SCALAR), *lab = make(ctx, DS_VOLUME_LABEL);
    ds_volume *ent = make(ctx, DS_VOLUME_SCALAR), *dis = make(ctx, DS_VOLUME_SCALAR);
    for (int64_t i = 0; i < 60; ++i) {
        ent->values[i] = static_cast<float>(i) / 59.0f;
        dis->values[i] = 0.01f * static_cast<float>(i % 7);
    }
    char path[512];
    std::snprintf(path, sizeof path, "%s/maps.vti", dir);
    DS_CHECK_OK(ctx, ds_render_write_vti(ctx, path, img, lab, ent, dis));
    vtkNew<vtkXMLImageDataReader> r;
    r->SetFileName(path);
    r->Update();
    vtkImageData *out = r->GetOutput();
    int dims[3];
    out->GetDimensions(dims);
    DS_CHECK_MSG(dims[0] == 5 && dims[1] == 4 && dims[2] == 3, "dims %d %d %d", dims[0], dims[1],
                 dims[2]);
    for (int a = 0; a < 3; ++a) {
        DS_CHECK_CLOSE(out->GetSpacing()[a], img->geom.spacing[a], 0.0, 1e-12);
        DS_CHECK_CLOSE(out->GetOrigin()[a], img->geom.origin[a], 0.0, 1e-12);
    }
    for (int i = 0; i < 9; ++i)
        DS_CHECK_CLOSE(out->GetDirectionMatrix()->GetData()[i], img->geom.direction[i], 0.0,
                       1e-12);
    // the index -> physical mapping is ITK's: origin + direction * (spacing * index)
    double phys[3];
    out->TransformIndexToPhysicalPoint(1, 2, 1, phys);
    for (int a = 0; a < 3; ++a) {
        double want = img->geom.origin[a];
        const int idx[3] = {1, 2, 1};
        for (int j = 0; j < 3; ++j)
            want += img->geom.direction[3 * a + j] * img->geom.spacing[j] * idx[j];
        DS_CHECK_CLOSE(phys[a], want, 0.0, 1e-9);
    }
    const char *names[4] = {"image", "label", "entropy", "disagreement"};
    const ds_volume *vols[4] = {img, lab, ent, dis};
    for (int k = 0; k < 4; ++k) {
        vtkDataArray *a = out->GetPointData()->GetArray(names[k]);
        DS_CHECK_MSG(a != nullptr, "array %s missing", names[k]);
        if (!a)
            continue;
        DS_CHECK(a->GetNumberOfTuples() == 60);
        DS_CHECK(a->GetDataType() == (k == 1 ? VTK_UNSIGNED_SHORT : VTK_FLOAT));
        double worst = 0;
        for (vtkIdType i = 0; i < 60; ++i) {
            double want = k == 1 ? vols[k]->labels[i] : vols[k]->values[i];
            worst = std::fmax(worst, std::fabs(a->GetTuple1(i) - want));
        }
        DS_CHECK_MSG(worst == 0.0, "array %s differs by %g", names[k], worst);
    }
    // optional maps may be left out; a wrong size is refused
    DS_CHECK_OK(ctx, ds_render_write_vti(ctx, path, img, nullptr, ent, nullptr));
    ds_geometry g = img->geom;
    g.size[0] = 4;
    ds_volume *small = nullptr;
    DS_CHECK_OK(ctx, ds_volume_create(ctx, &small, &g, DS_VOLUME_SCALAR));
    DS_CHECK_FAILS(ctx, ds_render_write_vti(ctx, path, img, nullptr, small, nullptr), DS_ERR_SHAPE);
    unlink(path);
    for (ds_volume *v : {img, lab, ent, dis, small})
        ds_volume_free(v);
}

static void test_color_table(ds_ctx *ctx, const char *dir)
{
    char path[512];
    std::snprintf(path, sizeof path, "%s/entropy.ctbl", dir);
    DS_CHECK_OK(ctx, ds_render_write_color_table(ctx, path));
    FILE *f = std::fopen(path, "r");
    DS_CHECK(f != nullptr);
    if (!f)
        return;
    char line[256];
    int entries = 0, header = 0, bad = 0, prev_r = -1, prev_a = -1, monotone = 1, a0 = -1;
    while (std::fgets(line, sizeof line, f)) {
        if (line[0] == '#') {
            header += std::strncmp(line, "# Color table file", 18) == 0;
            continue;
        }
        int idx, r, g, b, a;
        char name[64];
        if (std::sscanf(line, "%d %63s %d %d %d %d", &idx, name, &r, &g, &b, &a) != 6 ||
            idx != entries || r < 0 || r > 255 || g < 0 || g > 255 || b < 0 || b > 255 || a < 0 ||
            a > 255) {
            ++bad;
            continue;
        }
        if (idx == 0)
            a0 = a;
        monotone &= r >= prev_r && a >= prev_a && r >= g && g >= b;
        prev_r = r;
        prev_a = a;
        ++entries;
    }
    std::fclose(f);
    DS_CHECK(header == 1);
    DS_CHECK_MSG(bad == 0 && entries == DS_RENDER_HEAT_ENTRIES, "%d entries, %d bad", entries,
                 bad);
    DS_CHECK_MSG(a0 == 0, "entry 0 opacity %d (transparent expected)", a0);
    DS_CHECK_MSG(monotone, "the heat is not warm and brightening");
    DS_CHECK(prev_a > 128);
    unlink(path);
}

int main()
{
    ds_ctx *ctx = nullptr;
    ds_ctx_create(&ctx);
    char dir[] = "/tmp/ds_render_files_XXXXXX";
    DS_CHECK(mkdtemp(dir) != nullptr);
    test_vti(ctx, dir);
    test_color_table(ctx, dir);
    rmdir(dir);
    ds_ctx_free(ctx);
    return ds_test_finish("test_render_files");
}
