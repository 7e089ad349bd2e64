// vtk_bridge.cxx - the plain VTK calls of the bridge: its version, PNG reading, .vti writing.
// Every function has C linkage, takes a ds_ctx for its error message, and lets no C++
// exception cross into C.
#include "canvas.h"

#include <vtkFloatArray.h>
#include <vtkImageData.h>
#include <vtkMatrix3x3.h>
#include <vtkNew.h>
#include <vtkPNGReader.h>
#include <vtkPointData.h>
#include <vtkUnsignedShortArray.h>
#include <vtkVersion.h>
#include <vtkXMLImageDataWriter.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace dsr;

extern "C" ds_status ds_render_vtk_version(ds_ctx *ctx, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return ds_fail(ctx, DS_ERR_ARG, "ds_render_vtk_version: empty output buffer");
    return guard(ctx, "VTK", [&]() {
        std::snprintf(buf, cap, "%s", vtkVersion::GetVTKVersion());
        return DS_OK;
    });
}

extern "C" void ds_render_png_free(ds_render_png *p)
{
    if (!p)
        return;
    std::free(p->rgb);
    std::memset(p, 0, sizeof *p);
}

extern "C" ds_status ds_render_read_png(ds_ctx *ctx, const char *path, ds_render_png *out)
{
    if (!out || !path)
        return ds_fail(ctx, DS_ERR_ARG, "read png: null argument");
    std::memset(out, 0, sizeof *out);
    return guard(ctx, "read png", [&]() {
        vtkNew<vtkPNGReader> r;
        if (!r->CanReadFile(path))
            return ds_fail(ctx, DS_ERR_FORMAT, "%s: not a readable PNG", path);
        r->SetFileName(path);
        r->Update();
        vtkImageData *img = r->GetOutput();
        int dims[3];
        img->GetDimensions(dims);
        int comps = img->GetNumberOfScalarComponents();
        if (img->GetScalarType() != VTK_UNSIGNED_CHAR || comps < 1 || comps > 4)
            return ds_fail(ctx, DS_ERR_UNSUPPORTED, "%s: only 8-bit PNGs are read", path);
        size_t w = dims[0], h = dims[1];
        out->rgb = static_cast<uint8_t *>(std::malloc(w * h * 3));
        if (!out->rgb)
            return ds_fail(ctx, DS_ERR_NOMEM, "%s: no memory for %zux%zu pixels", path, w, h);
        auto *src = static_cast<const uint8_t *>(img->GetScalarPointer());
        for (size_t j = 0; j < h; ++j)
            for (size_t i = 0; i < w; ++i) {
                const uint8_t *p = src + ((h - 1 - j) * w + i) * comps; // VTK: bottom row first
                uint8_t *q = out->rgb + (j * w + i) * 3;
                for (int k = 0; k < 3; ++k)
                    q[k] = comps >= 3 ? p[k] : p[0];
            }
        out->width = dims[0];
        out->height = dims[1];
        return DS_OK;
    });
}

namespace {

void add_array(vtkImageData *img, const ds_volume *v, const char *name)
{
    vtkIdType n = static_cast<vtkIdType>(ds_volume_voxels(v));
    if (v->kind == DS_VOLUME_LABEL) {
        vtkNew<vtkUnsignedShortArray> a;
        a->SetName(name);
        a->SetArray(const_cast<uint16_t *>(v->labels), n, 1); // borrowed, never written
        img->GetPointData()->AddArray(a);
    } else {
        vtkNew<vtkFloatArray> a;
        a->SetName(name);
        a->SetArray(const_cast<float *>(v->values), n, 1);
        img->GetPointData()->AddArray(a);
    }
}

ds_status check_vti(ds_ctx *ctx, const ds_volume *image, const ds_volume *const extra[3],
                    const char *const names[3])
{
    if (!image || image->kind != DS_VOLUME_SCALAR)
        return ds_fail(ctx, DS_ERR_ARG, "write vti: the image is missing or not scalar");
    for (int k = 0; k < 3; ++k) {
        if (!extra[k])
            continue;
        if ((k == 0) != (extra[k]->kind == DS_VOLUME_LABEL))
            return ds_fail(ctx, DS_ERR_ARG, "write vti: the %s volume has the wrong kind",
                           names[k]);
        if (std::memcmp(extra[k]->geom.size, image->geom.size, sizeof image->geom.size) != 0)
            return ds_fail(ctx, DS_ERR_SHAPE, "write vti: the %s does not have the image's size",
                           names[k]);
    }
    return DS_OK;
}

} // namespace

extern "C" ds_status ds_render_write_vti(ds_ctx *ctx, const char *path, const ds_volume *image,
                                         const ds_volume *label, const ds_volume *entropy,
                                         const ds_volume *disagreement)
{
    const ds_volume *const extra[3] = {label, entropy, disagreement};
    const char *const names[3] = {"label", "entropy", "disagreement"};
    if (!path || !path[0])
        return ds_fail(ctx, DS_ERR_ARG, "write vti: no path");
    ds_status st = check_vti(ctx, image, extra, names);
    if (st != DS_OK)
        return st;
    return guard(ctx, "write vti", [&]() {
        vtkNew<vtkImageData> img;
        const ds_geometry &g = image->geom;
        img->SetDimensions(static_cast<int>(g.size[0]), static_cast<int>(g.size[1]),
                           static_cast<int>(g.size[2]));
        img->SetSpacing(g.spacing);
        img->SetOrigin(g.origin);
        img->SetDirectionMatrix(g.direction); // row-major, column j = axis j: VTK's convention
        add_array(img, image, "image");
        img->GetPointData()->SetActiveScalars("image");
        for (int k = 0; k < 3; ++k)
            if (extra[k])
                add_array(img, extra[k], names[k]);
        vtkNew<vtkXMLImageDataWriter> w;
        w->SetInputData(img);
        w->SetDataModeToBinary();
        w->SetCompressorTypeToZLib();
        w->WriteToOutputStringOn();
        if (!w->Write())
            return ds_fail(ctx, DS_ERR_INTERNAL, "write vti: the XML writer failed for %s", path);
        std::string bytes = w->GetOutputString();
        return ds_render_write_bytes(ctx, path, bytes.data(), bytes.size());
    });
}
