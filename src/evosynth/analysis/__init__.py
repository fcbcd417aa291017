"""Analysis of networks: a generation's metrics, last-layer features (t-SNE, 1-NN), exports, runtime."""
