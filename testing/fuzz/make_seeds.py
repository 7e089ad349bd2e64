#!/usr/bin/env python3
"""Writes the seed corpora of testing/fuzz/corpus/<target>/ (committed; rerun only to change them).

Sources: model seeds are cut from testing/nets/converted_vnet_w1.dsm (its header, metadata and the
start of its network section; the harness fixes the CRC); NIfTI seeds are small volumes written
with nibabel; the rest are hand-written texts.
"""
import gzip, io, os, struct
import numpy as np
import nibabel as nib

HERE = os.path.dirname(os.path.abspath(__file__))
TESTING = os.path.dirname(HERE)


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def model_seeds():
    d = open(os.path.join(TESTING, "nets", "converted_vnet_w1.dsm"), "rb").read()
    sections, p = [], 16
    while p < len(d) - 4:
        tag, n = struct.unpack("<IQ", d[p:p + 12])
        sections.append((tag, d[p + 12:p + 12 + n]))
        p += 12 + n
    meta = sections[0]
    rng = [s for s in sections if s[0] == 0x20474E52][0]
    net = [s for s in sections if s[0] == 0x2054454E][0]

    def model(secs):
        body = b"".join(struct.pack("<IQ", t, len(b)) + b for t, b in secs)
        return d[:8] + struct.pack("<II", 1, len(secs)) + body + b"\0\0\0\0"

    put("model_load", "meta_only.dsm", model([meta]))
    put("model_load", "meta_rng.dsm", model([meta, rng]))
    put("model_load", "net_cut.dsm", model([meta, (net[0], net[1][:600]), rng]))


def nifti_seeds():
    vol = np.arange(24, dtype=np.int16).reshape(4, 3, 2)
    for name, arr, slope in (("i16", vol, None), ("f32", vol.astype(np.float32), None),
                             ("i16_scaled", vol, 0.5)):
        img = nib.Nifti1Image(arr, np.diag([1.5, 1.0, 2.0, 1.0]))
        if slope is not None:
            img.header.set_slope_inter(slope, 10.0)
        buf = io.BytesIO()
        img.to_file_map({"image": nib.FileHolder(fileobj=buf), "header": nib.FileHolder(fileobj=buf)})
        raw = buf.getvalue()
        put("nifti_check", name + ".nii", raw)
        put("nifti_check", name + ".nii.gz", gzip.compress(raw, mtime=0))


def text_seeds():
    put("cohort_csv", "header.csv", "image,label\na.nii.gz,b.nii.gz\nb.nii.gz\n")
    put("cohort_csv", "quoted.csv", "# a comment\r\n\"a.nii.gz\", \"b.nii.gz\"\r\n\"b\"\"x.nii.gz\",\n")
    put("cohort_csv", "plain.csv", "a.nii.gz\n\n  b.nii.gz , a.nii.gz\n")
    put("dataset_json", "decathlon.json",
        '{"name": "t", "numTraining": 1, "training": [{"image": "./imagesTr/a.nii.gz", '
        '"label": "./labelsTr/a.nii.gz"}], "test": ["./imagesTr/a_0000.nii.gz"]}')
    put("dataset_json", "unlabelled.json",
        '\ufeff{"training": [{"image": "imagesTr/a_0000.nii.gz", "label": null}], "x": [1.5e3, true, '
        'false, {"k": "\\u00e9\\ud83d\\ude00"}]}')
    put("dataset_json", "folders.json", '{"name": "no lists", "labels": {"0": "background"}}')
    put("cli_spec", "evaluate.xml", open(os.path.join(TESTING, "..", "xml", "DualSegEvaluate.xml"), "rb").read())
    put("cli_spec", "args.xml", open(os.path.join(HERE, "cli_args.xml"), "rb").read())
    args = [["in.nii.gz", "out.nii.gz"],
            ["-i", "20", "--rate", "0.5", "-v", "in.nii.gz", "out.nii.gz"],
            ["--iterations=7", "--patch", "64,64,32", "--spacing", "0.5,0.5,1.25", "--mode", "exact",
             "--work", "/tmp", "--note", "hello", "a.nii.gz", "b.nrrd"],
            ["--verbose", "--", "-x.nii.gz", "y.nii.gz"]]
    for i, a in enumerate(args):
        put("cli_args", "argv%d" % i, "\0".join(a))


if __name__ == "__main__":
    model_seeds()
    nifti_seeds()
    text_seeds()
