/* net_internal.h - the layout of ds_net (private to core/nets). */
#ifndef DS_NETS_NET_INTERNAL_H
#define DS_NETS_NET_INTERNAL_H

#include "ds_activation.h"
#include "ds_nets.h"
#include "units.h"

#define DS_NET_LEVELS 5
#define DS_NET_MAX_UNITS 24  /* encoder units: V-Net 19, ResNet-34 1 stem + 16 blocks */
#define DS_NET_MAX_BN 96

struct ds_net_scratch {
    ds_pool pool;
    ds_conv_workspace *conv_work;
};

/* One encoder unit: a conv-BN-ReLU (V-Net, ResNet stem) or a BasicBlock. */
typedef struct ds_enc_unit {
    int is_basic;
    ds_cbr cbr;
    ds_basic basic;
} ds_enc_unit;

struct ds_net {
    ds_arch arch;
    int in_channels, classes, width;
    int dropout_enabled;

    /* encoder: a chain of units; level_end[l] is the unit whose output is level l (x1..x5) */
    ds_enc_unit enc[DS_NET_MAX_UNITS];
    int enc_count;
    int level_end[DS_NET_LEVELS];
    int bottleneck_dropout; /* V-Net only */

    /* decoder: for level j = 3..0, up[j] (transposed conv-BN-ReLU from level j+1), the sum with
     * the skip x_j, then stage[j] (a chain of conv-BN-ReLU units) */
    ds_cbr up[4];
    ds_cbr stage[4][3];
    int stage_count[4];
    ds_conv3d out_conv;
    ds_dropout3d drop_bottleneck, drop_feature;

    /* activations owned by the network (the units keep their own; the sums up[j] + x_j and the
     * conv-BN-ReLU outputs are recomputed when backward needs them) */
    ds_tensor *x5_dropped; /* bottleneck after dropout (training with dropout)        */
    ds_tensor *feature;    /* last decoder output after dropout (training with dropout) */
    ds_tensor *logits;
    const ds_tensor *feature_used; /* what the last forward fed to the output conv */
    int bottleneck_dropped;        /* whether the last forward's bottleneck went through dropout */
    ds_tensor *eval_feature; /* the feature lent from the pool by the last forward (evaluation,
                                or training without dropout) */
    const ds_tensor *input;
    int last_training, last_dropout;
    ds_shape planned;

    ds_param_list params;
    ds_batchnorm3d *bns[DS_NET_MAX_BN];
    int bn_count;
    ds_net_scratch own_scratch;
    ds_net_scratch *scratch; /* &own_scratch or a shared one */
};

ds_shape ds_enc_shape(const ds_enc_unit *u);

#endif
