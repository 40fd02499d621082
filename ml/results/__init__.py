"""What a pipeline run left (run), its comparison with a base run (compare), and where the base
comes from (revisions). Read by both `ml gate` and `ml report`."""
