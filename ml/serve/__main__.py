"""`python -m ml.serve`: the serving image's entry point. Everything is imported inside the guard:
uvicorn's worker processes import this module again and need nothing from it."""

if __name__ == "__main__":
    from ml.serve.command import cli

    cli()
