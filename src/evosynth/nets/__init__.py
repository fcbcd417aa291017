"""Networks: layers and masks, coupled channels (coupling), physical compaction, architectures."""
