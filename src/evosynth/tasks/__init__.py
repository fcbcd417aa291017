"""Tasks: what a network is trained for and how evaluate scores it, chosen by its dataset.

- ``classification`` (every labelled image set: Fashion-MNIST, MNIST, CIFAR-10,
  STL-10, digits, idx, npz): cross-entropy; test accuracy (EvoNet, cluster
  and sexual papers, StressedNets Tables 1–2).
- ``detection`` (KITTI): YOLOv2's region loss (:func:`evosynth.tasks.yolo.yolo_loss`);
  KITTI AP of car and pedestrian at the easy, moderate and hard difficulties
  (R40, and R11 as StressedNets Table 3 used), headline the moderate car AP
  (StressedNets Figure 6 plots moderate AP).
- ``saliency`` (MSRA-B, HKU-IS): per-pixel cross-entropy of two classes; MAE
  and Fβ with β² = 0.3 (EvoNet §III, Tables I–II), headline Fβ.

A metrics file keeps its usual ``accuracy`` key: for detection and saliency it
holds the headline score (named by ``headline``), so reports, fitness-based
mate selection and the papers' tolerance rules read every task alike.
Every task's data has ``x_train, y_train, x_test, y_test`` and ``num_classes``;
targets are indexable by sample (detection packs box and class as N×M×5), so
one training loop serves all.
"""
