/* ds_init.h - weight initialisation with PyTorch's formulas, from DualSeg's own RNG streams.
 *
 * The distributions match PyTorch's; the numbers do not (PyTorch uses its own generator). Parity
 * tests therefore load PyTorch's weights from fixtures rather than re-draw them.
 */
#ifndef DS_INIT_H
#define DS_INIT_H

#include "ds_param.h"
#include "ds_rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* torch.nn.init.kaiming_normal_ with its defaults (a = 0, mode "fan_in", nonlinearity
 * "leaky_relu"): N(0, std^2) with std = sqrt(2 / fan_in). fan_in is PyTorch's:
 * weight.size(1) * prod(kernel): in_channels * k^3 for Conv3d, out_channels * k^3 for
 * ConvTranspose3d. Draws 2 * numel stream values (ds_rng_fill_normal): identical for every
 * thread count. Fails on a NULL or unallocated parameter, a NULL stream or fan_in < 1. */
ds_status ds_init_kaiming_normal(ds_ctx *ctx, ds_param *weight, int64_t fan_in, ds_rng *rng);

/* Sets every value to v (BatchNorm weight 1, biases 0). NULL or unallocated: no effect. */
void ds_init_constant(ds_param *p, float v);
/* PyTorch's default Conv bias init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); numel stream values. */
ds_status ds_init_uniform_bias(ds_ctx *ctx, ds_param *bias, int64_t fan_in, ds_rng *rng);

#ifdef __cplusplus
}
#endif

#endif /* DS_INIT_H */
