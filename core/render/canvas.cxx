// canvas.cxx - drawing primitives, FreeType text and the PNG encoder of the render bridge.
#include "canvas.h"

#include <vtkFreeTypeTools.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPNGWriter.h>
#include <vtkStdString.h>
#include <vtkTextProperty.h>
#include <vtkUnsignedCharArray.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>

namespace dsr {

Canvas::Canvas(int w, int h, Rgb bg) : w_(w), h_(h), px_(static_cast<size_t>(w) * h * 3)
{
    fill(0, 0, w, h, bg);
}

void Canvas::put(int x, int y, Rgb c)
{
    if (x < 0 || y < 0 || x >= w_ || y >= h_)
        return;
    uint8_t *p = &px_[(static_cast<size_t>(y) * w_ + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
}

void Canvas::blend(int x, int y, Rgb c, double alpha)
{
    if (x < 0 || y < 0 || x >= w_ || y >= h_ || alpha <= 0.0)
        return;
    alpha = std::min(alpha, 1.0);
    uint8_t *p = &px_[(static_cast<size_t>(y) * w_ + x) * 3];
    const uint8_t src[3] = {c.r, c.g, c.b};
    for (int k = 0; k < 3; ++k)
        p[k] = static_cast<uint8_t>(std::lround(p[k] + alpha * (src[k] - p[k])));
}

void Canvas::fill(int x, int y, int w, int h, Rgb c)
{
    for (int j = std::max(y, 0); j < std::min(y + h, h_); ++j)
        for (int i = std::max(x, 0); i < std::min(x + w, w_); ++i)
            put(i, j, c);
}

void Canvas::frame(int x, int y, int w, int h, Rgb c)
{
    fill(x, y, w, 1, c);
    fill(x, y + h - 1, w, 1, c);
    fill(x, y, 1, h, c);
    fill(x + w - 1, y, 1, h, c);
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb c, double width)
{
    double r = width / 2.0 + 1.0;
    int ia = static_cast<int>(std::floor(std::min(x0, x1) - r));
    int ib = static_cast<int>(std::ceil(std::max(x0, x1) + r));
    int ja = static_cast<int>(std::floor(std::min(y0, y1) - r));
    int jb = static_cast<int>(std::ceil(std::max(y0, y1) + r));
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    for (int j = std::max(ja, 0); j <= std::min(jb, h_ - 1); ++j)
        for (int i = std::max(ia, 0); i <= std::min(ib, w_ - 1); ++i) {
            double t = len2 > 0 ? ((i - x0) * dx + (j - y0) * dy) / len2 : 0.0;
            t = std::clamp(t, 0.0, 1.0);
            double d = std::hypot(i - (x0 + t * dx), j - (y0 + t * dy));
            blend(i, j, c, width / 2.0 + 0.5 - d);
        }
}

static void set_font(vtkTextProperty *tp, int px, bool bold, Rgb c)
{
    tp->SetFontFamilyToArial();
    tp->SetFontSize(px);
    tp->SetBold(bold);
    tp->SetColor(c.r / 255.0, c.g / 255.0, c.b / 255.0);
    tp->SetJustificationToLeft();
    tp->SetVerticalJustificationToBottom();
}

int Canvas::text_width(const std::string &s, int px, bool bold)
{
    if (s.empty())
        return 0;
    vtkNew<vtkTextProperty> tp;
    set_font(tp, px, bold, TEXT);
    int bbox[4] = {0, 0, 0, 0};
    // dpi 72: a font size in points is a size in pixels
    if (!vtkFreeTypeTools::GetInstance()->GetBoundingBox(tp, vtkStdString(s), 72, bbox))
        throw std::runtime_error("FreeType could not measure \"" + s + "\"");
    return bbox[1] - bbox[0] + 1;
}

int Canvas::text(int x, int y, const std::string &s, int px, Rgb c, Align a, bool bold)
{
    if (s.empty())
        return 0;
    vtkNew<vtkTextProperty> tp;
    set_font(tp, px, bold, c);
    vtkNew<vtkImageData> img;
    int dims[2] = {0, 0};
    vtkFreeTypeTools *ft = vtkFreeTypeTools::GetInstance();
    ft->ScaleToPowerTwoOff();
    if (!ft->RenderString(tp, vtkStdString(s), 72, img, dims))
        throw std::runtime_error("FreeType could not render \"" + s + "\"");
    int ext[6];
    img->GetExtent(ext);
    int left = a == Align::Left ? x : a == Align::Centre ? x - dims[0] / 2 : x - dims[0];
    // the rendered rows are bottom first; the line box is px * 1.25 high with the baseline at
    // its bottom quarter, so every line of one size shares a baseline
    int top = y + (px * 5 / 4 - dims[1]);
    for (int j = 0; j < dims[1]; ++j)
        for (int i = 0; i < dims[0]; ++i) {
            auto *p = static_cast<unsigned char *>(
                img->GetScalarPointer(ext[0] + i, ext[2] + j, ext[4]));
            blend(left + i, top + dims[1] - 1 - j, c, p[3] / 255.0);
        }
    return dims[0];
}

void Canvas::blit(int x, int y, int w, int h, const uint8_t *rgb, bool flip)
{
    for (int j = 0; j < h; ++j) {
        const uint8_t *row = rgb + static_cast<size_t>(flip ? h - 1 - j : j) * w * 3;
        for (int i = 0; i < w; ++i)
            put(x + i, y + j, Rgb{row[3 * i], row[3 * i + 1], row[3 * i + 2]});
    }
}

ds_status write_png(ds_ctx *ctx, const Canvas &c, const char *path)
{
    vtkNew<vtkImageData> img;
    img->SetDimensions(c.width(), c.height(), 1);
    img->AllocateScalars(VTK_UNSIGNED_CHAR, 3);
    auto *dst = static_cast<uint8_t *>(img->GetScalarPointer());
    size_t row = static_cast<size_t>(c.width()) * 3;
    for (int j = 0; j < c.height(); ++j) // VTK's row 0 is the picture's bottom
        std::memcpy(dst + row * (c.height() - 1 - j), c.pixels().data() + row * j, row);
    vtkNew<vtkPNGWriter> w;
    w->SetInputData(img);
    w->SetCompressionLevel(9); // pictures are written once and kept: favour size
    w->WriteToMemoryOn();
    w->Write();
    vtkUnsignedCharArray *bytes = w->GetResult();
    if (!bytes || bytes->GetNumberOfValues() == 0)
        return ds_fail(ctx, DS_ERR_INTERNAL, "render: the PNG encoder produced nothing for %s",
                       path);
    return ds_render_write_bytes(ctx, path, bytes->GetPointer(0),
                                 static_cast<size_t>(bytes->GetNumberOfValues()));
}

ds_status guard(ds_ctx *ctx, const char *what, const std::function<ds_status()> &body)
{
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory", what);
    } catch (const std::exception &e) {
        return ds_fail(ctx, DS_ERR_INTERNAL, "%s: %s", what, e.what());
    } catch (...) {
        return ds_fail(ctx, DS_ERR_INTERNAL, "%s: unknown C++ exception", what);
    }
}

int font_px(int height)
{
    return std::clamp(height / 34, 12, 40);
}

} // namespace dsr
