"""PyTorch implementation of the losses of METHOD.md section 2: the independent reference of the
C losses (make_loss_fixtures.py), of the 10-step pair parity (make_pair_parity.py) and of the
benchmarks. Written from METHOD.md, with autograd for every gradient; teacher values detached.

Shapes: logits z (N, K, D, H, W), features f (N, F, D, H, W), labels y (N, D, H, W) int64 with the
ignore label on unlabelled voxels. Voxel order for sampling = C order of (N, D, H, W).
"""
import numpy as np
import torch
import torch.nn.functional as F

TERMS = ["ce", "dice", "cr", "cce", "kl", "con", "cos"]
DEFAULT_WEIGHTS = {"ce": 1.0, "dice": 1.0, "cr": 0.5, "cce": 1.0, "kl": 1.0, "con": 0.1, "cos": 1.0}


def default_options():
    return dict(enabled={t: True for t in TERMS}, weight=dict(DEFAULT_WEIGHTS), confidence=0.6,
                percentile=80.0, mask_mode="global", pseudo_mode="per_network",
                kl_direction="both", tau=0.1, max_uncertain=2000, dice_smooth=1e-5)


def entropy(z):
    """H(softmax(z)) per voxel, from the log-softmax (exact), of a detached tensor."""
    logp = F.log_softmax(z, dim=1)
    return -(logp.exp() * logp).sum(1)


def masked_ce(z, target, sel):
    """Mean over sel of -log softmax(z)[target]; 0 (with gradient graph) when sel is empty."""
    nll = -F.log_softmax(z, dim=1).gather(1, target.unsqueeze(1)).squeeze(1)
    count = sel.sum()
    if count == 0:
        return (z * 0).sum()
    return (nll * sel).sum() / count


def dice(p, y, lab, k, smooth):
    loss = 0.0
    for c in range(1, k):
        pc = p[:, c] * lab
        gc = ((y == c) & lab).to(p.dtype)
        inter, psq, gsum = (pc * gc).sum(), (pc * pc).sum(), gc.sum()
        loss = loss + 1.0 - (2.0 * inter + smooth) / (psq + gsum + smooth)
    return loss / (k - 1)


def cross_reliability(p_self, p_other, y, lab, confidence, k):
    with torch.no_grad():
        ms, a_s = p_self.max(1)
        mo, a_o = p_other.max(1)
        cs, co = ms >= confidence, mo >= confidence
        m = lab & ((cs != co) | (cs & co & (a_s != a_o)))
    onehot = F.one_hot(y.clamp(0, k - 1), k).permute(0, 4, 1, 2, 3).to(p_self.dtype)
    err = ((p_self - onehot) ** 2).sum(1)
    return (err * m).sum() / (m.sum() + 1e-16)


def teacher_mask(z_teacher, unl, percentile, mode):
    """(pseudo-label, reliable set, threshold) of a teacher: the numpy 'linear' percentile of
    H(p) over the unlabelled voxels, globally or per pseudo-class."""
    with torch.no_grad():
        h = entropy(z_teacher).to(torch.float32).to(torch.float64)
        y = z_teacher.argmax(1)
        if mode == "global":
            vals = h[unl].cpu().numpy()
            t = float(np.percentile(vals, percentile)) if vals.size else 0.0
            rel = unl & (h <= t)
            return y, rel, t
        rel = torch.zeros_like(unl)
        for c in range(z_teacher.shape[1]):
            sel = unl & (y == c)
            vals = h[sel].cpu().numpy()
            if vals.size:
                rel |= sel & (h <= float(np.percentile(vals, percentile)))
        return y, rel, 0.0


def kl_rectified(z_self, z_teacher):
    logp_s = F.log_softmax(z_self, dim=1)
    with torch.no_grad():
        logp_t = F.log_softmax(z_teacher, dim=1)
        p_t = logp_t.exp()
        y = z_teacher.argmax(1)
    d = (p_t * (logp_t - logp_s)).sum(1)
    ce = -logp_s.gather(1, y.unsqueeze(1)).squeeze(1)
    return (torch.exp(-d) * ce).mean() + d.mean()


def contrastive(f_self, label, rel, unc, tau, k, sample=None):
    """sample: None (every eligible uncertain voxel, in voxel order) or flat voxel indices.
    Returns (loss, number of prototypes, flat indices used)."""
    g = F.normalize(f_self, dim=1)
    nf = g.shape[1]
    gflat = g.permute(0, 2, 3, 4, 1).reshape(-1, nf)
    lab, relf, uncf = label.reshape(-1), rel.reshape(-1), unc.reshape(-1)
    protos, has = [], []
    with torch.no_grad():
        for c in range(k):
            sel = relf & (lab == c)
            has.append(bool(sel.any()))
            protos.append(F.normalize(gflat[sel].mean(0), dim=0) if has[-1]
                          else torch.zeros(nf, dtype=g.dtype))
    has_t = torch.tensor(has)
    eligible = uncf & has_t[lab]
    idx = torch.nonzero(eligible).squeeze(1) if sample is None else torch.as_tensor(sample)
    if idx.numel() == 0:
        return (f_self * 0).sum(), int(has_t.sum()), idx
    classes = [c for c in range(k) if has[c]]
    mu = torch.stack([protos[c] for c in classes])  # (P, F), detached
    remap = {c: i for i, c in enumerate(classes)}
    target = torch.tensor([remap[int(c)] for c in lab[idx]])
    logits = gflat[idx] @ mu.t() / tau
    return F.cross_entropy(logits, target), len(classes), idx


def cos_consistency(p_self, p_other):
    return (1.0 - F.cosine_similarity(p_self, p_other, dim=1)).mean()


def dual_losses(z, f, y, ignore, opt, ramp, samples=(None, None)):
    """z, f: lists of one or two tensors requiring grad. Returns (totals, terms, info):
    totals[n] is L(n) with the partner detached, so totals[n].backward() gives dL(n)/dz_n."""
    nets = len(z)
    k = z[0].shape[1]
    lab = y != ignore
    unl = ~lab
    yc = torch.where(lab, y, torch.zeros_like(y))
    en, w = opt["enabled"], opt["weight"]
    terms = [{t: torch.zeros((), dtype=z[0].dtype) for t in TERMS} for _ in range(nets)]
    info = {"threshold": [0.0, 0.0], "kept_fraction": [0.0, 0.0], "kept_foreground": [0.0, 0.0],
            "prototypes": [0, 0], "con_index": [None, None]}
    teachers = None
    if nets == 2 and (en["cce"] or en["con"]):
        masks = [teacher_mask(z[m].detach(), unl, opt["percentile"], opt["mask_mode"])
                 for m in range(2)]
        if opt["pseudo_mode"] == "union":
            ul = ((masks[0][0] == 1) | (masks[1][0] == 1)).long()
            ur = masks[0][1] | masks[1][1]
            teachers = [(ul, ur, masks[1][2]), (ul, ur, masks[0][2])]
        else:
            teachers = [masks[1], masks[0]]
    for n in range(nets):
        m = 1 - n
        p = F.softmax(z[n], dim=1)
        t = terms[n]
        if en["ce"]:
            t["ce"] = masked_ce(z[n], yc, lab)
        if en["dice"]:
            t["dice"] = dice(p, yc, lab, k, opt["dice_smooth"])
        if nets == 2:
            p_other = F.softmax(z[m].detach(), dim=1)
            if en["cr"]:
                t["cr"] = cross_reliability(p, p_other, yc, lab, opt["confidence"], k)
            if teachers is not None:
                label, rel, thr = teachers[n]
                unc = unl & ~rel
                count = int(rel.sum())
                info["threshold"][n] = thr
                info["kept_fraction"][n] = count / max(int(unl.sum()), 1)
                info["kept_foreground"][n] = int((rel & (label != 0)).sum()) / max(count, 1)
                if en["cce"]:
                    t["cce"] = masked_ce(z[n], label, rel)
                if en["con"]:
                    t["con"], info["prototypes"][n], info["con_index"][n] = contrastive(
                        f[n], label, rel, unc, opt["tau"], k, samples[n])
            if en["kl"] and (opt["kl_direction"] == "both" or n == 0):
                t["kl"] = kl_rectified(z[n], z[m].detach())
            if en["cos"]:
                t["cos"] = cos_consistency(p, p_other)
    totals = []
    for n in range(nets):
        total = 0.0
        for name in TERMS:
            if en[name]:
                scale = ramp if name in ("cce", "kl", "con") else 1.0
                total = total + w[name] * scale * terms[n][name]
        totals.append(total)
    return totals, terms, info
