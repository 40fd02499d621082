"""Raw data for `ml prepare`: the sources (bundled sets, CSV/Parquet files), their validation
schema, and the feature encoding that travels with the model."""
