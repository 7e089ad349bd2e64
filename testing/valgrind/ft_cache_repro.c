/* FreeType only (no VTK, no DualSeg): the cache calls vtkFreeTypeTools makes, run under memcheck.
 * ./ft_cache_repro [zeroed]   "zeroed": the library's allocator is calloc instead of malloc.
 * Prints which bytes of the fresh FTC_Manager FreeType left undefined (FTC_ManagerRec of 2.12:
 * library 0, memory 8, nodes_list 16, max_weight 24, cur_weight 32, num_nodes 40). */
#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_CACHE_H
#include FT_MODULE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>

static const char *font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
static void *zalloc(FT_Memory m, long n) { (void)m; return calloc(1, (size_t)n); }
static void *qalloc(FT_Memory m, long n) { (void)m; return malloc((size_t)n); }
static void mfree(FT_Memory m, void *p) { (void)m; free(p); }
static void *mrealloc(FT_Memory m, long cur, long n, void *p)
{
    (void)m;
    (void)cur;
    return realloc(p, (size_t)n);
}

static FT_Error request(FTC_FaceID id, FT_Library lib, FT_Pointer data, FT_Face *face)
{
    (void)id; (void)data;
    return FT_New_Face(lib, font, 0, face);
}

int main(int argc, char **argv)
{
    int zeroed = argc > 1 && strcmp(argv[1], "zeroed") == 0;
    struct FT_MemoryRec_ mem = {NULL, zeroed ? zalloc : qalloc, mfree, mrealloc};
    FT_Library lib;
    if (FT_New_Library(&mem, &lib))
        return 1;
    FT_Add_Default_Modules(lib);
    FTC_Manager manager;
    FTC_CMapCache cmap;
    FTC_ImageCache images;
    if (FTC_Manager_New(lib, 0, 0, 0, request, NULL, &manager) ||
        FTC_CMapCache_New(manager, &cmap) || FTC_ImageCache_New(manager, &images)) {
        fprintf(stderr, "ft_cache_repro: FreeType's cache could not start\n");
        return 1;
    }
    unsigned char vbits[48];
    if (VALGRIND_GET_VBITS(manager, vbits, sizeof vbits) == 1) {
        printf("undefined bytes of the new FTC_Manager:");
        for (int i = 0; i < 48; ++i)
            if (vbits[i])
                printf(" %d", i);
        printf("\n");
    }
    FTC_ScalerRec scaler;
    memset(&scaler, 0, sizeof scaler); /* every byte of our key defined */
    scaler.face_id = (FTC_FaceID)1;
    scaler.width = scaler.height = 20 * 64;
    scaler.pixel = 0;
    scaler.x_res = scaler.y_res = 72;
    const char *text = "blob";
    int width = 0;
    for (const char *c = text; *c; ++c) {
        FT_UInt g = FTC_CMapCache_Lookup(cmap, (FTC_FaceID)1, 0, (FT_UInt32)*c);
        FT_Glyph glyph;
        if (FTC_ImageCache_LookupScaler(images, &scaler, FT_LOAD_DEFAULT, g, &glyph, NULL)) {
            fprintf(stderr, "ft_cache_repro: no glyph from %s\n", font);
            return 1;
        }
        width += (int)(glyph->advance.x >> 16);
    }
    printf("'%s' is %d px wide (%s allocator)\n", text, width, zeroed ? "calloc" : "malloc");
    FTC_Manager_Done(manager);
    FT_Done_Library(lib);
    return 0;
}
