from ml.cli import app

app(prog_name="ml")
