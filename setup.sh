#!/usr/bin/env bash
# Set up evosynth on a fresh machine: Fashion-MNIST from Debian's package (where apt is
# available) and a virtual environment .venv with the pinned requirements.
#   ./setup.sh && source .venv/bin/activate && dvc repro
set -euo pipefail
cd "$(dirname "$0")"

FMNIST=/usr/share/datasets/fashion-mnist
if [ ! -d "$FMNIST" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian's dataset-fashion-mnist"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    cat >&2 <<MSG
setup: Fashion-MNIST not found at $FMNIST and apt-get is not available.
  Put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
  t10k-labels-idx1-ubyte.gz in a folder and set datasets.fashion_mnist.root to it in params.yaml,
  or set datasets.fashion_mnist.download: true to let torchvision fetch them (needs internet).
MSG
  fi
fi

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt -e .
.venv/bin/python -c "import evosynth, torch, dvc, snakemake; print('setup: evosynth', evosynth.__version__, '| torch', torch.__version__)"
