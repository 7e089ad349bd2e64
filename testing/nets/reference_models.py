"""PyTorch definitions of DualSeg's two networks (METHOD.md section 1), the independent reference
for the C implementation: parameter counts, parity fixtures, benchmarks, and the conversion of
PyTorch checkpoints (testing/nets/convert_state_dict.py).

Network B is the V-Net of the semi-supervised Left Atrium literature (UA-MT / MC-Net / SSL4MIS),
with BatchNorm; network A replaces its encoder by a ResNet-34 encoder (7x7x7 stem, no max-pool,
BasicBlock stages [3, 4, 6, 3] at 2w/4w/8w/16w, each starting with stride 2 and a 1x1x1 stride-2
projection shortcut) and keeps the same decoder. Both return (logits, feature), feature being the
w-channel full-resolution input of the output convolution (after dropout in training).
Parameter names are the state_dict names the C model file uses.
"""
import torch
import torch.nn as nn


def conv_bn_relu_stack(n_stages, c_in, c_out):
    ops = []
    for i in range(n_stages):
        ops += [nn.Conv3d(c_in if i == 0 else c_out, c_out, 3, padding=1),
                nn.BatchNorm3d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*ops)


class ConvBlock(nn.Module):
    def __init__(self, n_stages, c_in, c_out):
        super().__init__()
        self.conv = conv_bn_relu_stack(n_stages, c_in, c_out)

    def forward(self, x):
        return self.conv(x)


class DownBlock(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv3d(c_in, c_out, 2, stride=2), nn.BatchNorm3d(c_out),
                                  nn.ReLU(inplace=True))

    def forward(self, x):
        return self.conv(x)


class UpBlock(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Sequential(nn.ConvTranspose3d(c_in, c_out, 2, stride=2),
                                  nn.BatchNorm3d(c_out), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.conv(x)


def add_decoder(net, w, n_classes, dropout):
    """Registers the V-Net decoder shared by both networks (additive skips, stages 3/3/2/1) on
    net, with the literature's flat names (block_five_up ... out_conv), so that state_dicts of the
    literature's VNet load as they are."""
    net.block_five_up = UpBlock(16 * w, 8 * w)
    net.block_six = ConvBlock(3, 8 * w, 8 * w)
    net.block_six_up = UpBlock(8 * w, 4 * w)
    net.block_seven = ConvBlock(3, 4 * w, 4 * w)
    net.block_seven_up = UpBlock(4 * w, 2 * w)
    net.block_eight = ConvBlock(2, 2 * w, 2 * w)
    net.block_eight_up = UpBlock(2 * w, w)
    net.block_nine = ConvBlock(1, w, w)
    net.out_conv = nn.Conv3d(w, n_classes, 1)
    net.dropout = nn.Dropout3d(p=0.5) if dropout else nn.Identity()


def decode(net, x1, x2, x3, x4, x5):
    x = net.block_six(net.block_five_up(x5) + x4)
    x = net.block_seven(net.block_six_up(x) + x3)
    x = net.block_eight(net.block_seven_up(x) + x2)
    x = net.block_nine(net.block_eight_up(x) + x1)
    feature = net.dropout(x)
    return net.out_conv(feature), feature


class VNet(nn.Module):
    """Network B. Parameter names follow the literature's VNet (block_one ... out_conv)."""

    def __init__(self, n_channels=1, n_classes=2, w=16, dropout=True):
        super().__init__()
        self.block_one = ConvBlock(1, n_channels, w)
        self.block_one_dw = DownBlock(w, 2 * w)
        self.block_two = ConvBlock(2, 2 * w, 2 * w)
        self.block_two_dw = DownBlock(2 * w, 4 * w)
        self.block_three = ConvBlock(3, 4 * w, 4 * w)
        self.block_three_dw = DownBlock(4 * w, 8 * w)
        self.block_four = ConvBlock(3, 8 * w, 8 * w)
        self.block_four_dw = DownBlock(8 * w, 16 * w)
        self.block_five = ConvBlock(3, 16 * w, 16 * w)
        add_decoder(self, w, n_classes, dropout)

    def forward(self, x):
        x1 = self.block_one(x)
        x2 = self.block_two(self.block_one_dw(x1))
        x3 = self.block_three(self.block_two_dw(x2))
        x4 = self.block_four(self.block_three_dw(x3))
        x5 = self.dropout(self.block_five(self.block_four_dw(x4)))  # bottleneck dropout
        return decode(self, x1, x2, x3, x4, x5)


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv3d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(c_out)
        self.conv2 = nn.Conv3d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv3d(c_in, c_out, 1, stride=stride, bias=False),
                                            nn.BatchNorm3d(c_out))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNetVNet(nn.Module):
    """Network A: ResNet-34 encoder + the V-Net decoder."""

    def __init__(self, n_channels=1, n_classes=2, w=16, dropout=True):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv3d(n_channels, w, 7, padding=3, bias=False),
                                  nn.BatchNorm3d(w), nn.ReLU(inplace=True))
        widths, counts = [2 * w, 4 * w, 8 * w, 16 * w], [3, 4, 6, 3]
        c_in = w
        for i, (c, n) in enumerate(zip(widths, counts)):
            blocks = [BasicBlock(c_in if b == 0 else c, c, 2 if b == 0 else 1) for b in range(n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            c_in = c
        add_decoder(self, w, n_classes, dropout)

    def forward(self, x):
        x1 = self.stem(x)
        x2 = self.layer1(x1)
        x3 = self.layer2(x2)
        x4 = self.layer3(x3)
        x5 = self.layer4(x4)
        return decode(self, x1, x2, x3, x4, x5)


def kaiming_init(model):
    """The literature's initialisation (kaiming_normal_init_weight): kaiming_normal_ on Conv3d
    weights, BN weight 1 and bias 0; conv biases and transposed convs keep PyTorch's defaults."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight)
        elif isinstance(m, nn.BatchNorm3d):
            m.weight.data.fill_(1)
            m.bias.data.zero_()


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    for name, cls in (("vnet", VNet), ("resnet34_vnet", ResNetVNet)):
        m = cls(n_classes=2)
        print(name, count_parameters(m))
