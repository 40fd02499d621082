"""`ml report`: the pull-request report (Markdown, tables, Mermaid charts, PNG plots), its one
sticky comment, and the job-summary notification."""
