// itk_bridge.cxx - the thin C++ layer between the C core and ITK. Every function here has C
// linkage, takes a ds_ctx for its error message, and lets no C++ exception cross into C.
//
// The ITK IO factories are registered explicitly, once (std::call_once), rather than through
// ITK_USE_FILE's generated registration. Reading picks the ImageIO from the file name and checks
// that it can read the file (magic); writing picks it from the file name.
#include "ds_io.h"
#include "io_internal.h"

#include <itkGDCMImageIO.h>
#include <itkGDCMImageIOFactory.h>
#include <itkGDCMSeriesFileNames.h>
#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkImageIOFactory.h>
#include <itkImageSeriesReader.h>
#include <itkMetaDataObject.h>
#include <itkMetaImageIO.h>
#include <itkMetaImageIOFactory.h>
#include <itkNiftiImageIO.h>
#include <itkNiftiImageIOFactory.h>
#include <itkNrrdImageIO.h>
#include <itkNrrdImageIOFactory.h>
#include <itkObject.h>
#include <itkVersion.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace {

using FloatImage = itk::Image<float, 3>;

std::once_flag g_factories_once;

void register_factories()
{
    std::call_once(g_factories_once, [] {
        itk::NrrdImageIOFactory::RegisterOneFactory();
        itk::NiftiImageIOFactory::RegisterOneFactory();
        itk::MetaImageIOFactory::RegisterOneFactory();
        itk::GDCMImageIOFactory::RegisterOneFactory();
        // ITK would otherwise print warnings on stderr; the library never prints.
        itk::Object::GlobalWarningDisplayOff();
    });
}

// An ITK message on one line, without the "file:line:" noise where possible.
std::string one_line(const char *what)
{
    std::string s(what ? what : "unknown error");
    for (char &c : s)
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
    std::string out;
    out.reserve(s.size());
    for (char c : s)
        if (!(c == ' ' && !out.empty() && out.back() == ' '))
            out.push_back(c);
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

ds_status fail_exception(ds_ctx *ctx, const char *path, const std::exception &e)
{
    const auto *ie = dynamic_cast<const itk::ExceptionObject *>(&e);
    std::string msg = one_line(ie ? ie->GetDescription() : e.what());
    return ds_fail(ctx, DS_ERR_FORMAT, "%s: cannot read or write through ITK: %s", path,
                   msg.c_str());
}

itk::ImageIOBase::Pointer io_for_name(const char *path)
{
    switch (ds_io_format_of(path)) {
    case DS_IO_NRRD:
    case DS_IO_NHDR:
    case DS_IO_SEG_NRRD:
        return itk::NrrdImageIO::New().GetPointer();
    case DS_IO_NIFTI:
        return itk::NiftiImageIO::New().GetPointer();
    case DS_IO_MHA:
    case DS_IO_MHD: {
        auto io = itk::MetaImageIO::New();
        io->SetDoublePrecision(17); // geometry written exactly (the default is 6 digits)
        return io.GetPointer();
    }
    default:
        return nullptr;
    }
}

ds_status geometry_from_image(ds_ctx *ctx, const FloatImage *img, ds_geometry *g, const char *path)
{
    const auto size = img->GetLargestPossibleRegion().GetSize();
    const auto &sp = img->GetSpacing();
    const auto &org = img->GetOrigin();
    const auto &dir = img->GetDirection();
    for (int a = 0; a < 3; ++a) {
        g->size[a] = static_cast<int64_t>(size[a]);
        g->spacing[a] = sp[a];
        g->origin[a] = org[a];
        for (int b = 0; b < 3; ++b)
            g->direction[3 * a + b] = dir(a, b);
    }
    return ds_geometry_check(ctx, g, path);
}

// Labels from floats: each value must be within 1e-3 of an integer in 0..65535. h, when not
// null, is the scaling that made the floats (named in the message: the stored values may be fine).
ds_status labels_from_floats(ds_ctx *ctx, const float *src, int64_t n, uint16_t *dst,
                             const char *path, const ds_nifti_header *h)
{
    for (int64_t i = 0; i < n; ++i) {
        const float x = src[i];
        const float r = std::nearbyint(x);
        if (!std::isfinite(x) || std::fabs(x - r) > 1e-3f || r < 0.0f || r > 65535.0f) {
            char why[128] = "";
            if (h && h->scaling == DS_NIFTI_SCALED)
                std::snprintf(why, sizeof why, " (the file's stored values are scaled by "
                              "scl_slope %g, scl_inter %g)", h->slope, h->inter);
            return ds_fail(ctx, DS_ERR_FORMAT,
                           "%s: label value %g at voxel %lld is not an integer in 0..65535%s",
                           path, static_cast<double>(x), static_cast<long long>(i), why);
        }
        dst[i] = static_cast<uint16_t>(r);
    }
    return DS_OK;
}

// A new volume with the geometry of img (whose buffer is not needed).
ds_status volume_like(ds_ctx *ctx, const FloatImage *img, int as_label, const char *path,
                      ds_volume **out)
{
    ds_geometry g;
    ds_status st = geometry_from_image(ctx, img, &g, path);
    if (st != DS_OK)
        return st;
    return ds_volume_create(ctx, out, &g, as_label ? DS_VOLUME_LABEL : DS_VOLUME_SCALAR);
}

// Copies the float image into a new volume; labels are checked and converted.
ds_status volume_from_image(ds_ctx *ctx, const FloatImage *img, int as_label, const char *path,
                            ds_volume **out)
{
    ds_volume *v = nullptr;
    ds_status st = volume_like(ctx, img, as_label, path, &v);
    if (st != DS_OK)
        return st;
    const float *src = img->GetBufferPointer();
    const int64_t n = ds_volume_voxels(v);
    if (!as_label)
        std::memcpy(v->values, src, static_cast<size_t>(n) * sizeof(float));
    else
        st = labels_from_floats(ctx, src, n, v->labels, path, nullptr);
    if (st != DS_OK) {
        ds_volume_free(v);
        return st;
    }
    *out = v;
    return DS_OK;
}

// A NIfTI file whose values are read here (ds_nifti_read_values); info is the image ITK made from
// the file's header alone (geometry, no data).
ds_status volume_from_nifti(ds_ctx *ctx, const FloatImage *info, const ds_nifti_header *h,
                            int as_label, const char *path, ds_volume **out)
{
    ds_volume *v = nullptr;
    ds_status st = volume_like(ctx, info, as_label, path, &v);
    if (st != DS_OK)
        return st;
    const int64_t n = ds_volume_voxels(v);
    if (!as_label) {
        st = ds_nifti_read_values(ctx, path, h, v->values, static_cast<uint64_t>(n));
    } else {
        std::vector<float> values(static_cast<size_t>(n));
        st = ds_nifti_read_values(ctx, path, h, values.data(), static_cast<uint64_t>(n));
        if (st == DS_OK)
            st = labels_from_floats(ctx, values.data(), n, v->labels, path, h);
    }
    if (st != DS_OK) {
        ds_volume_free(v);
        return st;
    }
    *out = v;
    return DS_OK;
}

// Segment<N>_Name / _LabelValue / _Layer of a Slicer .seg.nrrd (segments counted by their _ID).
ds_status read_segments(ds_ctx *ctx, const itk::MetaDataDictionary &dict, const char *path,
                        ds_volume *v)
{
    int count = 0;
    while (count < 100000 && dict.HasKey("Segment" + std::to_string(count) + "_ID"))
        ++count;
    if (count == 0)
        return DS_OK; // a plain label map named .seg.nrrd: no segment list
    auto *segs = static_cast<ds_segment *>(std::calloc(static_cast<size_t>(count),
                                                       sizeof(ds_segment)));
    if (!segs)
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory for %d segments", path, count);
    for (int i = 0; i < count; ++i) {
        const std::string pre = "Segment" + std::to_string(i) + "_";
        std::string name, value, layer;
        if (!itk::ExposeMetaData<std::string>(dict, pre + "Name", name))
            itk::ExposeMetaData<std::string>(dict, pre + "ID", name);
        std::snprintf(segs[i].name, sizeof segs[i].name, "%s", name.c_str());
        long lv = i + 1; // files without LabelValue: one segment per value, in order
        if (itk::ExposeMetaData<std::string>(dict, pre + "LabelValue", value)) {
            char *end = nullptr;
            lv = std::strtol(value.c_str(), &end, 10);
            if (end == value.c_str() || *end != '\0' || lv < 0 || lv > 65535) {
                std::free(segs);
                return ds_fail(ctx, DS_ERR_FORMAT, "%s: %sLabelValue '%s' is not in 0..65535",
                               path, pre.c_str(), value.c_str());
            }
        }
        if (itk::ExposeMetaData<std::string>(dict, pre + "Layer", layer) && layer != "0") {
            std::free(segs);
            return ds_fail(ctx, DS_ERR_UNSUPPORTED,
                           "%s: segment %d is on layer %s: multi-layer segmentations are not "
                           "supported (export a label map from Slicer)",
                           path, i, layer.c_str());
        }
        segs[i].label_value = static_cast<int>(lv);
    }
    v->segments = segs;
    v->segment_count = count;
    return DS_OK;
}

// The DICOM series of a folder with the most files.
ds_status read_dicom(ds_ctx *ctx, const char *dir, int as_label, ds_volume **out)
{
    auto names = itk::GDCMSeriesFileNames::New();
    names->SetUseSeriesDetails(true);
    names->SetDirectory(dir);
    const auto &uids = names->GetSeriesUIDs();
    if (uids.empty())
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: no DICOM series in this folder", dir);
    std::vector<std::string> best;
    for (const auto &uid : uids) {
        auto files = names->GetFileNames(uid);
        if (files.size() > best.size())
            best = files;
    }
    auto reader = itk::ImageSeriesReader<FloatImage>::New();
    reader->SetImageIO(itk::GDCMImageIO::New());
    reader->SetFileNames(best);
    reader->Update();
    return volume_from_image(ctx, reader->GetOutput(), as_label, dir, out);
}

// One component per voxel, 3-D (extra axes of size 1 allowed), from the file's information.
ds_status check_scalar_3d(ds_ctx *ctx, const itk::ImageIOBase *io, bool seg, const char *path)
{
    const unsigned dims = io->GetNumberOfDimensions();
    if (io->GetNumberOfComponents() != 1) {
        if (seg)
            return ds_fail(ctx, DS_ERR_UNSUPPORTED,
                           "%s: multi-layer segmentation (%u layers) is not supported (export a "
                           "label map from Slicer)", path, io->GetNumberOfComponents());
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: has %u components per voxel; only scalar "
                       "images are read", path, io->GetNumberOfComponents());
    }
    if (dims < 3)
        return ds_fail(ctx, DS_ERR_SHAPE, "%s: is %u-D, a 3-D volume is required", path, dims);
    for (unsigned d = 3; d < dims; ++d)
        if (io->GetDimensions(d) != 1)
            return ds_fail(ctx, DS_ERR_SHAPE, "%s: is %u-D (axis %u has %zu entries), a 3-D "
                           "volume is required", path, dims, d, (size_t)io->GetDimensions(d));
    return DS_OK;
}

ds_status read_file(ds_ctx *ctx, const char *path, int as_label, ds_volume **out)
{
    if (!ds_path_is_file(path))
        return ds_fail(ctx, DS_ERR_IO, "%s: no such file", path);
    if (ds_io_ends_with(path, ".nii.gz")) {
        // nifticlib looks for <base>.nii before <base>.nii.gz: with both present it would
        // silently read the other file.
        std::string plain(path, std::strlen(path) - 3);
        if (ds_path_is_file(plain.c_str()))
            return ds_fail(ctx, DS_ERR_UNSUPPORTED, "%s: %s exists beside it and the NIfTI "
                           "library would read that one instead; remove or rename one of them",
                           path, plain.c_str());
    }
    // NIfTI: the header is read here too, for the data's size on disk and the scaling
    const bool nifti = ds_io_format_of(path) == DS_IO_NIFTI;
    ds_nifti_header nh;
    if (nifti) {
        ds_status st = ds_nifti_read_header(ctx, path, &nh);
        if (st != DS_OK)
            return st;
    }
    itk::ImageIOBase::Pointer io = io_for_name(path);
    if (!io)
        io = itk::ImageIOFactory::CreateImageIO(path, itk::IOFileModeEnum::ReadMode);
    if (!io)
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: not a format DualSeg reads (NRRD, NIfTI, "
                       "MetaImage, DICOM folder)", path);
    if (!io->CanReadFile(path))
        return ds_fail(ctx, DS_ERR_FORMAT, "%s: not a valid %s file (bad header or magic)", path,
                       io->GetNameOfClass());
    io->SetFileName(path);
    io->ReadImageInformation();
    const bool seg = ds_io_format_of(path) == DS_IO_SEG_NRRD;
    ds_status st = check_scalar_3d(ctx, io, seg, path);
    if (st == DS_OK && nifti)
        st = ds_nifti_check_complete(ctx, path, &nh);
    if (st != DS_OK)
        return st;
    auto reader = itk::ImageFileReader<FloatImage>::New();
    reader->SetImageIO(io);
    reader->SetFileName(path);
    if (nifti && nh.scaling != DS_NIFTI_UNSCALED) {
        reader->UpdateOutputInformation();
        return volume_from_nifti(ctx, reader->GetOutput(), &nh, as_label, path, out);
    }
    reader->Update();
    ds_volume *v = nullptr;
    st = volume_from_image(ctx, reader->GetOutput(), as_label, path, &v);
    if (st == DS_OK && as_label && seg)
        st = read_segments(ctx, io->GetMetaDataDictionary(), path, v);
    if (st != DS_OK) {
        ds_volume_free(v);
        return st;
    }
    *out = v;
    return DS_OK;
}

template <typename Pixel>
typename itk::Image<Pixel, 3>::Pointer make_image(const ds_geometry &g)
{
    using Image = itk::Image<Pixel, 3>;
    auto img = Image::New();
    typename Image::SizeType size;
    typename Image::SpacingType sp;
    typename Image::PointType org;
    typename Image::DirectionType dir;
    for (int a = 0; a < 3; ++a) {
        size[a] = static_cast<itk::SizeValueType>(g.size[a]);
        sp[a] = g.spacing[a];
        org[a] = g.origin[a];
        for (int b = 0; b < 3; ++b)
            dir(a, b) = g.direction[3 * a + b];
    }
    img->SetRegions(typename Image::RegionType(size));
    img->SetSpacing(sp);
    img->SetOrigin(org);
    img->SetDirection(dir);
    img->Allocate();
    return img;
}

// Segment keys Slicer reads back from a .seg.nrrd (one layer, one value per segment).
void put_segments(itk::MetaDataDictionary &dict, const ds_volume *v)
{
    itk::EncapsulateMetaData<std::string>(dict, "Segmentation_MasterRepresentation",
                                          "Binary labelmap");
    itk::EncapsulateMetaData<std::string>(dict, "Segmentation_ContainedRepresentationNames",
                                          "Binary labelmap|");
    for (int i = 0; i < v->segment_count; ++i) {
        const std::string pre = "Segment" + std::to_string(i) + "_";
        itk::EncapsulateMetaData<std::string>(dict, pre + "ID", "Segment_" + std::to_string(i + 1));
        itk::EncapsulateMetaData<std::string>(dict, pre + "Name", v->segments[i].name);
        itk::EncapsulateMetaData<std::string>(dict, pre + "LabelValue",
                                              std::to_string(v->segments[i].label_value));
        itk::EncapsulateMetaData<std::string>(dict, pre + "Layer", "0");
    }
}

template <typename Pixel>
void write_image(typename itk::Image<Pixel, 3>::Pointer img, const char *path,
                 itk::ImageIOBase *io, bool compress)
{
    auto writer = itk::ImageFileWriter<itk::Image<Pixel, 3>>::New();
    writer->SetImageIO(io);
    writer->SetFileName(path);
    writer->SetInput(img);
    writer->SetUseCompression(compress);
    writer->Update();
}

} // namespace

extern "C" ds_status ds_io_itk_version(ds_ctx *ctx, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return ds_fail(ctx, DS_ERR_ARG, "ds_io_itk_version: empty output buffer");
    try {
        std::snprintf(buf, cap, "%s", itk::Version::GetITKVersion());
        return DS_OK;
    } catch (const std::exception &e) {
        return ds_fail(ctx, DS_ERR_INTERNAL, "ITK: %s", e.what());
    }
}

extern "C" ds_status ds_itk_read(ds_ctx *ctx, const char *path, int as_label, ds_volume **out)
{
    if (!path || !out)
        return ds_fail(ctx, DS_ERR_ARG, "ds_io_read: null path or output");
    *out = nullptr;
    try {
        register_factories();
        if (ds_path_is_dir(path))
            return read_dicom(ctx, path, as_label, out);
        return read_file(ctx, path, as_label, out);
    } catch (const std::bad_alloc &) {
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory while reading", path);
    } catch (const std::exception &e) {
        return fail_exception(ctx, path, e);
    } catch (...) {
        return ds_fail(ctx, DS_ERR_INTERNAL, "%s: unknown exception while reading", path);
    }
}

extern "C" ds_status ds_itk_write(ds_ctx *ctx, const ds_volume *v, const char *path, int compress,
                                  const char *shown)
{
    try {
        register_factories();
        itk::ImageIOBase::Pointer io = io_for_name(path);
        if (!io)
            return ds_fail(ctx, DS_ERR_UNSUPPORTED, "%s: cannot write this format (use .nrrd, "
                           ".nhdr, .seg.nrrd, .nii, .nii.gz, .mha or .mhd)", shown);
        const int64_t n = ds_geometry_voxels(&v->geom);
        if (v->kind == DS_VOLUME_SCALAR) {
            auto img = make_image<float>(v->geom);
            std::memcpy(img->GetBufferPointer(), v->values, static_cast<size_t>(n) * sizeof(float));
            write_image<float>(img, path, io, compress != 0);
        } else {
            uint16_t maxv = 0;
            for (int64_t i = 0; i < n; ++i)
                if (v->labels[i] > maxv)
                    maxv = v->labels[i];
            if (maxv <= 255) {
                auto img = make_image<uint8_t>(v->geom);
                uint8_t *dst = img->GetBufferPointer();
                for (int64_t i = 0; i < n; ++i)
                    dst[i] = static_cast<uint8_t>(v->labels[i]);
                if (v->segment_count > 0 && ds_io_format_of(path) == DS_IO_SEG_NRRD)
                    put_segments(img->GetMetaDataDictionary(), v);
                write_image<uint8_t>(img, path, io, true);
            } else {
                auto img = make_image<uint16_t>(v->geom);
                std::memcpy(img->GetBufferPointer(), v->labels,
                            static_cast<size_t>(n) * sizeof(uint16_t));
                if (v->segment_count > 0 && ds_io_format_of(path) == DS_IO_SEG_NRRD)
                    put_segments(img->GetMetaDataDictionary(), v);
                write_image<uint16_t>(img, path, io, true);
            }
        }
        return DS_OK;
    } catch (const std::bad_alloc &) {
        return ds_fail(ctx, DS_ERR_NOMEM, "%s: out of memory while writing", shown);
    } catch (const std::exception &e) {
        const auto *ie = dynamic_cast<const itk::ExceptionObject *>(&e);
        std::string msg = one_line(ie ? ie->GetDescription() : e.what());
        return ds_fail(ctx, DS_ERR_IO, "%s: ITK could not write: %s", shown, msg.c_str());
    } catch (...) {
        return ds_fail(ctx, DS_ERR_INTERNAL, "%s: unknown exception while writing", shown);
    }
}
