// test_headers_cxx.cxx - every public header compiles as C++ and declares C linkage: the call
// below links against the C library only if ds_fail is declared extern "C".
#include "ds_all_headers.h"

extern "C" int cxx_headers_compiled(void);

extern "C" int cxx_headers_compiled(void)
{
    return static_cast<int>(ds_fail(nullptr, DS_ERR_ARG, "from C++"));
}
