"""Loss curves: reading metric histories from the MLflow store, downsampling them for the page,
diagnosing them and drawing them. A plain package (no Django): the views and the cache wire it up."""
