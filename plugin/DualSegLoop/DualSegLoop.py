"""DualSegLoop - the annotator in the loop inside 3D Slicer (a scripted module).

Paint a few axial slices of a structure in the Segment Editor, press "Train and suggest": the
module runs DualSeg Train (warm-started from the previous round's model after the first) and
DualSeg Segment on the loaded volume and its segmentation, shows the entropy as a coloured
foreground over the volume and the segmentation as outlines, and lists the slices to paint next;
a click on one jumps the slice view there. Paint it, press the button again.

Display only: every command line comes from dualseg_loop_commands.gui_round (checked by
testing/cli/test_loop_commands.py against the lines test_cli_loop runs through the modules).
UNTESTED INSIDE SLICER (Slicer cannot run where DualSeg is built and tested); see README.md.
"""
import os
import subprocess
import tempfile

import qt
import slicer
import vtk
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleWidget)

import dualseg_loop_commands as dc


class DualSegLoop(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        parent.title = "DualSeg Loop"
        parent.categories = ["Segmentation.DualSeg"]
        parent.contributors = ["The DualSeg developers"]
        parent.helpText = __doc__
        parent.acknowledgementText = "Runs the DualSeg Train and DualSeg Segment CLI modules."


class DualSegLoopLogic(ScriptedLoadableModuleLogic):
    """Runs a round's two command lines; keeps the folder and the last model between rounds."""

    def __init__(self):
        ScriptedLoadableModuleLogic.__init__(self)
        self.work = tempfile.mkdtemp(prefix="DualSegLoop_")
        self.round = 0

    def modules_folder(self):
        return os.path.dirname(slicer.modules.dualsegtrain.path)

    def run_round(self, volume_node, segmentation_node, iterations, slice_range=None):
        volume = os.path.join(self.work, "volume.nrrd")
        painted = os.path.join(self.work, "painted.nrrd")
        slicer.util.saveNode(volume_node, volume)
        labelmap = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
        slicer.modules.segmentations.logic().ExportVisibleSegmentsToLabelmapNode(
            segmentation_node, labelmap, volume_node)
        slicer.util.saveNode(labelmap, painted)
        slicer.mrmlScene.RemoveNode(labelmap)
        model = os.path.join(self.work, f"round{self.round}.dsm")
        warm = os.path.join(self.work, f"round{self.round - 1}.dsm") if self.round else None
        r = dc.gui_round(self.modules_folder(), self.work, volume, painted, model, iterations,
                         warm_start=warm, slice_range=slice_range)
        for argv in (r["train"], r["segment"]):
            done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
            if done.returncode != 0:
                raise RuntimeError(f"{os.path.basename(argv[0])} failed:\n{done.stdout[-2000:]}")
        self.round += 1
        with open(r["return_file"]) as f:
            values = dc.parse_return_file(f.read())
        return r, dc.ints(values.get("suggestedSlices")), dc.doubles(values.get("sliceScores"))


class DualSegLoopWidget(ScriptedLoadableModuleWidget):
    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        self.logic = DualSegLoopLogic()
        form = qt.QFormLayout()
        self.layout.addLayout(form)
        self.volume = slicer.qMRMLNodeComboBox()
        self.volume.nodeTypes = ["vtkMRMLScalarVolumeNode"]
        self.segmentation = slicer.qMRMLNodeComboBox()
        self.segmentation.nodeTypes = ["vtkMRMLSegmentationNode"]
        for combo in (self.volume, self.segmentation):
            combo.noneEnabled = False
            combo.addEnabled = False
            combo.setMRMLScene(slicer.mrmlScene)
        self.iterations = qt.QSpinBox()
        self.iterations.setRange(1, 100000)
        self.iterations.value = 400
        self.extent = qt.QLineEdit()
        self.extent.placeholderText = "first-last, e.g. 12-40 (optional)"
        self.extent.toolTip = ("The axial slices the structure spans: suggestions come from "
                               "them only. A model trained on a few slices is often most unsure "
                               "in the empty slices beyond the structure's ends.")
        self.button = qt.QPushButton("Train and suggest")
        self.slices = qt.QListWidget()
        self.status = qt.QLabel("Paint a few axial slices, then train.")
        form.addRow("Volume:", self.volume)
        form.addRow("Painted segmentation:", self.segmentation)
        form.addRow("Iterations per round:", self.iterations)
        form.addRow("Structure spans slices:", self.extent)
        form.addRow(self.button)
        form.addRow("Slices to paint next:", self.slices)
        form.addRow(self.status)
        self.button.connect("clicked()", self.on_train)
        self.slices.connect("itemClicked(QListWidgetItem*)", self.on_slice)
        self.layout.addStretch(1)

    def on_train(self):
        volume, segmentation = self.volume.currentNode(), self.segmentation.currentNode()
        if not volume or not segmentation:
            self.status.text = "Choose a volume and its segmentation."
            return
        try:
            extent = dc.parse_slice_range(self.extent.text)
        except ValueError as e:
            self.status.text = f"Structure spans slices: {e}."
            return
        self.status.text = f"Round {self.logic.round}: training and segmenting ..."
        slicer.app.processEvents()
        try:
            r, slices, scores = self.logic.run_round(volume, segmentation, self.iterations.value,
                                                     extent)
        except RuntimeError as e:
            self.status.text = str(e)
            return
        self.show(volume, r)
        self.slices.clear()
        for s, v in zip(slices, scores):
            item = qt.QListWidgetItem(f"slice {s} (third axis), uncertainty {v:.3f}")
            item.setData(qt.Qt.UserRole, s)
            self.slices.addItem(item)
        self.status.text = f"Round {self.logic.round - 1} done: paint a listed slice, train again."

    def show(self, volume, r):
        """Entropy as a coloured foreground over the volume, the segmentation as outlines."""
        entropy = slicer.util.loadVolume(r["entropy"])
        label = slicer.util.loadLabelVolume(r["label"])
        inferno = slicer.util.getFirstNodeByName("Inferno")
        display = entropy.GetDisplayNode()
        if inferno:
            display.SetAndObserveColorNodeID(inferno.GetID())
        display.SetAutoWindowLevel(False)
        display.SetWindowLevelMinMax(0.0, 1.0)
        slicer.util.setSliceViewerLayers(background=volume, foreground=entropy,
                                         foregroundOpacity=0.5, label=label, labelOpacity=1.0)
        for name in slicer.app.layoutManager().sliceViewNames():
            slicer.app.layoutManager().sliceWidget(name).mrmlSliceNode().SetUseLabelOutline(True)
        self.current_volume = volume

    def on_slice(self, item):
        """Jumps the red view to slice k of the third array axis (axial for the usual scan
        orientation), through the RAS position of the slice's centre voxel."""
        k = item.data(qt.Qt.UserRole)
        volume = self.current_volume
        dims = volume.GetImageData().GetDimensions()
        m = vtk.vtkMatrix4x4()
        volume.GetIJKToRASMatrix(m)
        ras = m.MultiplyPoint([(dims[0] - 1) / 2.0, (dims[1] - 1) / 2.0, float(k), 1.0])
        red = slicer.app.layoutManager().sliceWidget("Red").mrmlSliceNode()
        red.SetOrientationToAxial()
        red.JumpSliceByCentering(ras[0], ras[1], ras[2])
