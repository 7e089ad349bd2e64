# Third-party dependencies, all from Debian 12 (scripts/bootstrap.sh installs them).
#   OpenMP    - parallel loops
#   OpenBLAS  - CBLAS GEMM, the OpenMP build (shares OpenMP's thread pool: no oversubscription)
#   libxml2   - the module descriptions under xml/
#   jansson   - dataset.json (strict: duplicate keys refused)
#   zlib      - CRC-32 of model files, gzip of .nii.gz checks
#   ITK 5.2   - image I/O (bridge in core/io, C++ inside, C outside)
#   VTK 9.1   - rendering of overlays (bridge in core/render)

find_package(OpenMP REQUIRED COMPONENTS C CXX)
find_package(LibXml2 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET GLOBAL jansson>=2.13)

# Debian installs several OpenBLAS builds side by side; the generic libopenblas.so.0 is an
# alternatives link that usually points at the pthread build. Link the OpenMP build explicitly and
# keep its directory in the run path, so that the library loaded at run time is that build.
set(DS_OPENBLAS_VARIANT_DIR "/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp")
find_library(DS_OPENBLAS_LIBRARY NAMES openblas PATHS "${DS_OPENBLAS_VARIANT_DIR}" NO_DEFAULT_PATH)
find_path(DS_OPENBLAS_INCLUDE_DIR NAMES cblas.h
          PATHS "/usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp" NO_DEFAULT_PATH)
if(NOT DS_OPENBLAS_LIBRARY OR NOT DS_OPENBLAS_INCLUDE_DIR)
  message(FATAL_ERROR "The OpenMP build of OpenBLAS was not found (Debian package "
                      "libopenblas-openmp-dev); run scripts/bootstrap.sh")
endif()
add_library(DS::OpenBLAS SHARED IMPORTED)
set_target_properties(DS::OpenBLAS PROPERTIES
  IMPORTED_LOCATION "${DS_OPENBLAS_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${DS_OPENBLAS_INCLUDE_DIR}")
get_filename_component(DS_OPENBLAS_LIBDIR "${DS_OPENBLAS_LIBRARY}" DIRECTORY)
list(APPEND CMAKE_BUILD_RPATH "${DS_OPENBLAS_LIBDIR}")
list(APPEND CMAKE_INSTALL_RPATH "${DS_OPENBLAS_LIBDIR}")

# ITK: only the modules the I/O bridge needs.
find_package(ITK 5.2 REQUIRED COMPONENTS
  ITKCommon ITKIOImageBase ITKIONRRD ITKIONIFTI ITKIOMeta ITKIOGDCM
  ITKImageGrid ITKImageIntensity ITKImageFunction)

# VTK: only the imaging / I/O modules the render bridge needs: IOXML for .vti, RenderingCore's
# text property and RenderingFreeType's rasteriser for text without OpenGL. Found here, at the
# top, because VTK's imported targets (VTK::freetype -> Freetype::Freetype) resolve in this scope.
find_package(VTK 9.1 REQUIRED COMPONENTS
  CommonCore CommonDataModel CommonMath ImagingCore IOImage IOXML RenderingCore RenderingFreeType)

# Python with numpy / scipy / torch for the reference scripts under testing/ (Debian's interpreter,
# not one from a user environment that lacks these modules).
find_program(DS_REFERENCE_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
