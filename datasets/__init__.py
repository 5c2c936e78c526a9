"""Datasets and versions (DVC), data profile, data document, splits, labelling. See DESIGN.md."""
