/* blas_core.c - ds_cli_correct_blas_core: runs the module again with OPENBLAS_CORETYPE set when
 * OpenBLAS fell back to kernels far slower than the CPU supports (ds_blas_core_correction).
 *
 * OpenBLAS reads the variable once, while it is loaded, before main: setting it later changes
 * nothing, so the only way to correct the choice from inside the program is to exec it again.
 * exec keeps the process id, the open files and the arguments, so Slicer, which watches the
 * process, sees one run. The variable set ends the recursion: the second run finds it set, as it
 * finds a user's own choice, which is always kept. */
#include "cli_internal.h"
#include "ds_threads.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The kernel set OpenBLAS chose before the exec, for the report of the run after it. */
#define CORRECTED_FROM "DS_BLAS_CORE_CORRECTED_FROM"

void ds_cli_correct_blas_core(char **argv)
{
    if (!argv || getenv("OPENBLAS_CORETYPE"))
        return;
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload"))
        return;
    const char *core = ds_blas_core_correction();
    if (!core)
        return;
    if (setenv(CORRECTED_FROM, ds_blas_core(), 1) != 0 || setenv("OPENBLAS_CORETYPE", core, 1) != 0)
        return;
    fflush(NULL);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: run on with the kernels OpenBLAS chose */
    unsetenv(CORRECTED_FROM);
}

void cli_report_blas_core(FILE *out)
{
    const char *from = getenv(CORRECTED_FROM);
    const char *asked = getenv("OPENBLAS_CORETYPE");
    if (!from || !asked)
        return;
    fprintf(out, "OpenBLAS: %s kernels (OPENBLAS_CORETYPE=%s) instead of %s, its fallback for a CPU "
                 "model it does not know; set OPENBLAS_CORETYPE to choose\n",
            ds_blas_core(), asked, from);
    fflush(out);
}
