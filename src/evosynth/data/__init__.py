"""Datasets: sources in their published formats (sources, stl10, kitti, saliency) and the prepared format (prepared)."""
