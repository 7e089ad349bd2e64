/* cce.c - cross pseudo supervision with the entropy mask (METHOD.md 2.2):
 * L_cce(n) = mean over R_m of CE(z_n, y_m); y_m and R_m come from the teacher (detached), the
 * gradient reaches the student's logits (the public code's CE on detached probabilities did not). */
#include "loss_internal.h"

double loss_cce_forward(const loss_geom *g, const loss_net *student, const loss_teacher *t,
                        double *partials)
{
    double sum;
    int64_t count;
    loss_ce_forward(g, student, t->label, t->role, LOSS_RELIABLE, partials, &sum, &count);
    return count > 0 ? sum / (double)count : 0.0;
}

void loss_cce_backward(const loss_geom *g, const loss_net *student, const loss_teacher *t,
                       double weight, float *dz)
{
    if (t->reliable > 0)
        loss_ce_backward(g, student, t->label, t->role, LOSS_RELIABLE,
                         weight / (double)t->reliable, dz);
}
