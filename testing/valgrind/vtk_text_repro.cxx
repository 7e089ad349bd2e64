// VTK only (no DualSeg code): one string rendered through vtkFreeTypeTools, as the overlay's
// legend is, with every text property set. Under memcheck, prints which bytes of VTK's
// FreeType cache manager (FTC_ManagerRec of 2.12: cur_weight at 32..39) are undefined.
// ./vtk_text_repro fixed: first sets cur_weight to 0 (what FTC_Manager_New leaves undone).
#include <vtkFreeTypeTools.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkStdString.h>
#include <vtkTextProperty.h>

#include <cstdio>
#include <cstring>
#include <valgrind/memcheck.h>

struct Probe : vtkFreeTypeTools { // reaches the protected accessor through a member pointer
    using vtkFreeTypeTools::GetCacheManager;
};

int main(int argc, char **argv)
{
    bool fixed = argc > 1 && std::strcmp(argv[1], "fixed") == 0;
    vtkNew<vtkTextProperty> tp;
    tp->SetFontFamilyToArial();
    tp->SetFontSize(15);
    tp->SetBold(false);
    tp->SetColor(0.9, 0.9, 0.9);
    tp->SetJustificationToLeft();
    tp->SetVerticalJustificationToBottom();
    vtkNew<vtkImageData> img;
    int dims[2] = {0, 0};
    vtkFreeTypeTools *ft = vtkFreeTypeTools::GetInstance();
    ft->ScaleToPowerTwoOff();
    FTC_Manager *(vtkFreeTypeTools::*get)() = &Probe::GetCacheManager;
    if (fixed) // the manager is created here, before any glyph enters the cache
        std::memset(reinterpret_cast<char *>(*(ft->*get)()) + 32, 0, 8);
    if (!ft->RenderString(tp, vtkStdString("blob"), 72, img, dims))
        return 1;
    unsigned char vbits[48];
    if (VALGRIND_GET_VBITS(*(ft->*get)(), vbits, sizeof vbits) == 1) {
        std::printf("undefined bytes of VTK's FTC_Manager:");
        for (int i = 0; i < 48; ++i)
            if (vbits[i])
                std::printf(" %d", i);
        std::printf("\n");
    }
    std::printf("'blob' rendered %d x %d\n", dims[0], dims[1]);
    return 0;
}
