// slice.cxx - reslicing, colour mapping and blending of one slice, and the side band.
#include "slice.h"

#include <vtkFloatArray.h>
#include <vtkImageBlend.h>
#include <vtkImageData.h>
#include <vtkImageMapToColors.h>
#include <vtkImageReslice.h>
#include <vtkLookupTable.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkSmartPointer.h>
#include <vtkUnsignedShortArray.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dsr {

namespace {

// The in-plane axes of a slice across `axis`: u runs to the right, v downwards when flip_v is
// false (axial: y grows to the patient's back, the bottom of the picture) else upwards.
struct View {
    int u, v;
    bool flip_v;
};

View view_of(int axis)
{
    if (axis == 2)
        return {0, 1, false};
    if (axis == 1)
        return {0, 2, true};
    return {1, 2, true};
}

// Wraps a volume's buffer (borrowed: VTK never frees or writes it) as vtkImageData in voxel
// space scaled by the spacing.
vtkSmartPointer<vtkImageData> wrap(const ds_volume *v)
{
    auto img = vtkSmartPointer<vtkImageData>::New();
    img->SetDimensions(static_cast<int>(v->geom.size[0]), static_cast<int>(v->geom.size[1]),
                       static_cast<int>(v->geom.size[2]));
    img->SetSpacing(v->geom.spacing);
    vtkIdType n = static_cast<vtkIdType>(ds_volume_voxels(v));
    if (v->kind == DS_VOLUME_LABEL) {
        vtkNew<vtkUnsignedShortArray> a;
        a->SetArray(const_cast<uint16_t *>(v->labels), n, 1);
        img->GetPointData()->SetScalars(a);
    } else {
        vtkNew<vtkFloatArray> a;
        a->SetArray(const_cast<float *>(v->values), n, 1);
        img->GetPointData()->SetScalars(a);
    }
    return img;
}

struct Plane {
    View view;
    double pixel_mm;
    int w, h;
    double origin[3]; // a point of the plane, mm
};

vtkSmartPointer<vtkImageReslice> reslice(const ds_volume *v, const Plane &p, bool nearest,
                                         int threads)
{
    double axes[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    axes[0][p.view.u] = 1.0;
    axes[1][p.view.v] = 1.0;
    axes[2][3 - p.view.u - p.view.v] = 1.0;
    auto r = vtkSmartPointer<vtkImageReslice>::New();
    r->SetInputData(wrap(v));
    r->SetResliceAxesDirectionCosines(axes[0], axes[1], axes[2]);
    r->SetResliceAxesOrigin(p.origin[0], p.origin[1], p.origin[2]);
    r->SetOutputDimensionality(2);
    r->SetOutputSpacing(p.pixel_mm, p.pixel_mm, 1.0);
    // pixel centres tile the slice from its first voxel's outer edge to its last one's
    const double *s = v->geom.spacing;
    r->SetOutputOrigin(-0.5 * s[p.view.u] + 0.5 * p.pixel_mm,
                       -0.5 * s[p.view.v] + 0.5 * p.pixel_mm, 0.0);
    r->SetOutputExtent(0, p.w - 1, 0, p.h - 1, 0, 0);
    if (nearest)
        r->SetInterpolationModeToNearestNeighbor();
    else
        r->SetInterpolationModeToLinear();
    r->SetBackgroundLevel(0.0);
    r->SetNumberOfThreads(threads);
    return r;
}

vtkSmartPointer<vtkLookupTable> grey_table(float lo, float hi)
{
    auto t = vtkSmartPointer<vtkLookupTable>::New();
    t->SetNumberOfTableValues(256);
    t->SetTableRange(lo, hi);
    t->SetHueRange(0, 0);
    t->SetSaturationRange(0, 0);
    t->SetValueRange(0, 1);
    t->SetAlphaRange(1, 1);
    t->SetRampToLinear();
    t->Build();
    return t;
}

vtkSmartPointer<vtkLookupTable> heat_table(const ds_render_options *o)
{
    auto t = vtkSmartPointer<vtkLookupTable>::New();
    t->SetNumberOfTableValues(DS_RENDER_HEAT_ENTRIES);
    t->SetTableRange(0.0, 1.0);
    for (int i = 0; i < DS_RENDER_HEAT_ENTRIES; ++i) {
        uint8_t c[4];
        ds_render_heat_rgba(o, i / double(DS_RENDER_HEAT_ENTRIES - 1), c);
        t->SetTableValue(i, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0, c[3] / 255.0);
    }
    return t;
}

// The grey slice with the heat blended over it (vtkImageBlend weighs the heat by its alpha).
vtkSmartPointer<vtkImageData> compose(const Scene &s, const Plane &p)
{
    vtkNew<vtkImageMapToColors> grey;
    grey->SetInputConnection(reslice(s.image, p, false, s.threads)->GetOutputPort());
    grey->SetLookupTable(grey_table(s.lo, s.hi));
    grey->SetOutputFormatToRGB();
    grey->SetNumberOfThreads(s.threads);
    if (!s.entropy) {
        grey->Update();
        return grey->GetOutput();
    }
    vtkNew<vtkImageMapToColors> heat;
    heat->SetInputConnection(reslice(s.entropy, p, false, s.threads)->GetOutputPort());
    heat->SetLookupTable(heat_table(s.opt));
    heat->SetOutputFormatToRGBA();
    heat->SetNumberOfThreads(s.threads);
    vtkNew<vtkImageBlend> blend;
    blend->AddInputConnection(grey->GetOutputPort());
    blend->AddInputConnection(heat->GetOutputPort());
    blend->SetOpacity(1, 1.0);
    blend->SetNumberOfThreads(s.threads);
    blend->Update();
    return blend->GetOutput();
}

// Pixels of class l != 0 with a lower value within `rad` along a row or column.
void draw_outlines(Canvas &c, const Scene &s, const Plane &p, int x, int y)
{
    auto r = reslice(s.label, p, true, s.threads);
    r->Update();
    auto *lab = static_cast<const uint16_t *>(r->GetOutput()->GetScalarPointer());
    int rad = std::max(1, std::min(p.w, p.h) / 160);
    auto at = [&](int i, int j) { return lab[static_cast<size_t>(j) * p.w + i]; };
    for (int j = 0; j < p.h; ++j)
        for (int i = 0; i < p.w; ++i) {
            uint16_t l = at(i, j);
            if (l == 0 || l == DS_IGNORE_LABEL_DEFAULT)
                continue;
            // only the higher class of a boundary draws it, so nested structures get one
            // line each, in their own colour
            bool edge = false;
            for (int d = 1; d <= rad && !edge; ++d)
                edge = (i - d >= 0 && at(i - d, j) < l) || (i + d < p.w && at(i + d, j) < l) ||
                       (j - d >= 0 && at(i, j - d) < l) || (j + d < p.h && at(i, j + d) < l);
            if (!edge)
                continue;
            uint8_t rgb[3];
            ds_render_class_rgb(l, rgb);
            c.put(x + i, p.view.flip_v ? y + p.h - 1 - j : y + j, Rgb{rgb[0], rgb[1], rgb[2]});
        }
}

} // namespace

void draw_slice(Canvas &c, const Scene &s, int axis, int64_t index, int x, int y, int w, int h,
                int rect[4])
{
    Plane p;
    p.view = view_of(axis);
    const double *sp = s.image->geom.spacing;
    const int64_t *n = s.image->geom.size;
    double eu = n[p.view.u] * sp[p.view.u], ev = n[p.view.v] * sp[p.view.v];
    p.pixel_mm = std::max(eu / w, ev / h);
    p.w = std::clamp(static_cast<int>(std::lround(eu / p.pixel_mm)), 1, w);
    p.h = std::clamp(static_cast<int>(std::lround(ev / p.pixel_mm)), 1, h);
    p.origin[0] = p.origin[1] = p.origin[2] = 0.0;
    p.origin[axis] = static_cast<double>(std::clamp<int64_t>(index, 0, n[axis] - 1)) * sp[axis];
    int px = x + (w - p.w) / 2, py = y + (h - p.h) / 2;
    vtkSmartPointer<vtkImageData> rgb = compose(s, p);
    c.blit(px, py, p.w, p.h, static_cast<const uint8_t *>(rgb->GetScalarPointer()),
           p.view.flip_v);
    if (s.label)
        draw_outlines(c, s, p, px, py);
    rect[0] = px;
    rect[1] = py;
    rect[2] = p.w;
    rect[3] = p.h;
}

int side_band_width(int w, int font)
{
    return std::clamp(w / 7, 8 * font, 14 * font);
}

static std::string class_name(const ds_render_options *o, int k)
{
    if (o->class_names && k <= o->class_name_count && o->class_names[k - 1] &&
        o->class_names[k - 1][0])
        return o->class_names[k - 1];
    return "class " + std::to_string(k);
}

void draw_side_band(Canvas &c, const Scene &s, int x, int y, int w, int h)
{
    int f = font_px(c.height());
    int ty = y;
    if (s.entropy) {
        c.text(x, ty, "Entropy", f, TEXT, Align::Left, true);
        c.text(x, ty + f * 5 / 4, "(normalised)", f * 4 / 5, DIM_TEXT);
        ty += f * 5 / 2 + f / 2;
        int bar_h = std::max(4 * f, h / 2 - ty + y);
        int bar_w = std::max(10, f);
        // the bar shows the heat as it looks over mid-grey, so it reads like the overlay
        for (int j = 0; j < bar_h; ++j) {
            double t = 1.0 - j / double(bar_h - 1);
            uint8_t q[4];
            ds_render_heat_rgba(s.opt, t, q);
            for (int i = 0; i < bar_w; ++i) {
                c.put(x + i, ty + j, Rgb{128, 128, 128});
                c.blend(x + i, ty + j, Rgb{q[0], q[1], q[2]}, q[3] / 255.0);
            }
        }
        c.frame(x - 1, ty - 1, bar_w + 2, bar_h + 2, DIM_TEXT);
        for (int k = 0; k <= 4; ++k) {
            int yy = ty + static_cast<int>(std::lround((1.0 - k / 4.0) * (bar_h - 1)));
            c.fill(x + bar_w + 1, yy, f / 2, 1, TEXT);
            char lab[16];
            std::snprintf(lab, sizeof lab, "%.2f", k / 4.0);
            c.text(x + bar_w + f, yy - f * 2 / 3, lab, f * 4 / 5, TEXT);
        }
        ty += bar_h + f * 3 / 2;
    }
    int classes = ds_render_max_class(s.label);
    if (classes > 0) {
        c.text(x, ty, "Outlines", f, TEXT, Align::Left, true);
        ty += f * 3 / 2;
        for (int k = 1; k <= classes && ty + f < y + h; ++k, ty += f * 3 / 2) {
            uint8_t rgb[3];
            ds_render_class_rgb(k, rgb);
            c.frame(x, ty + f / 4, f, f, Rgb{rgb[0], rgb[1], rgb[2]});
            c.frame(x + 1, ty + f / 4 + 1, f - 2, f - 2, Rgb{rgb[0], rgb[1], rgb[2]});
            c.text(x + f * 3 / 2, ty, class_name(s.opt, k), f * 9 / 10, TEXT);
        }
    }
    (void)w;
}

} // namespace dsr
